// The Rank task as one client-side control: ranks, scores, flags, order strip, comment, scope, skip.
// Nothing here talks to the server except Submit and Skip (trigger values); the work in progress
// lives in sessionStorage under the lease, so a rerun, a page switch or a reload keeps it. The scope
// question (scopeBlock) comes from scope.js, prepended to this module.
const STORE = (aid) => `labeler.rank.${aid}`;

function load(data) {
  const k = data.candidates.length;
  const blank = { ranks: Array(k).fill(null), likert: Array(k).fill(null), flags: Array.from({ length: k }, () => []),
                  none: false, comment: "", cur: 0 };
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE(data.aid)) || "null");
    if (saved && saved.ranks && saved.ranks.length === k) return { ...blank, ...saved };
  } catch (e) { /* a damaged entry: start blank */ }
  return blank;
}

// Standard competition ranking ("1224"), the service's rule: a rank is 1 + the number ranked better.
export function check(state, data) {
  const L = data.candidates.map((c) => c.label), k = L.length;
  if (state.none && state.ranks.every((r) => r === null)) return { ok: true, text: "None of these is acceptable." };
  const missing = L.filter((_, i) => state.ranks[i] === null);
  if (missing.length) return { ok: false, text: `Not ranked yet: ${missing.join(", ")}.` };
  const ranks = state.ranks;
  if (!data.ties) {
    const dup = ranks.find((r, i) => ranks.indexOf(r) !== i);
    if (dup !== undefined) {
      const tied = L.filter((_, i) => ranks[i] === dup).join(" and ");
      return { ok: false, text: `${tied} share rank ${dup}, but this project does not allow ties.` };
    }
  }
  for (let i = 0; i < k; i++) {
    const better = ranks.filter((r) => r < ranks[i]).length;
    if (ranks[i] !== better + 1) {
      return { ok: false, text: `${L[i]}: rank ${ranks[i]} should be ${better + 1}: ${better} repl${better === 1 ? "y ranks" : "ies rank"} better ` +
        "(after a tie the next rank skips: 1, 1, 3, not 1, 1, 2)." };
    }
  }
  return { ok: true, text: "" };
}

export function summary(state, data) {
  const L = data.candidates.map((c) => c.label), groups = new Map(), unranked = [];
  state.ranks.forEach((r, i) => (r === null ? unranked.push(L[i]) : groups.set(r, [...(groups.get(r) || []), L[i]])));
  let out = [...groups.keys()].sort((a, b) => a - b).map((r) => groups.get(r).join(" = ")).join(" > ");
  if (unranked.length) out += (out ? "; " : "") + "not ranked yet: " + unranked.join(", ");
  return out || "nothing ranked yet";
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function scrollToTop(node) {
  for (let p = node.parentElement || node.host; p; p = p.parentElement || (p.getRootNode && p.getRootNode().host)) {
    if (p.scrollTop) p.scrollTop = 0;
  }
  window.scrollTo(0, 0);
  const main = document.querySelector('[data-testid="stMain"]');
  if (main) main.scrollTop = 0;
}

export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  const root = parentElement.querySelector(".rank-root") || el("div", { class: "rank-root", tabindex: "0" });
  if (!root.isConnected) parentElement.append(root);
  if (root.dataset.aid === String(data.aid) && root.dataset.markdown === String(data.markdown)) return;
  const fresh = root.dataset.aid !== String(data.aid);
  root.dataset.aid = String(data.aid);
  root.dataset.markdown = String(data.markdown);
  const k = data.candidates.length, L = data.candidates.map((c) => c.label);
  const state = load(data);
  const scope = scopeBlock(data);
  let pendingFlag = false;
  const save = () => sessionStorage.setItem(STORE(data.aid), JSON.stringify(state));

  const cards = [], status = el("div", { class: "rank-status", role: "status", "aria-live": "polite" });
  const order = el("div", { class: "rank-order", "aria-label": "Your order (drag to reorder)" });
  const orderText = el("div", { class: "rank-order-text" });
  const submit = el("button", { class: "rank-submit", type: "button", text: "Submit ranking", onclick: () => send() });
  const none = el("input", { type: "checkbox", id: `none-${data.aid}`, onchange: () => { state.none = none.checked; update(); } });
  const comment = el("textarea", { class: "rank-comment", id: `comment-${data.aid}`, rows: "3", placeholder: "Anything the reviewers should know?" });
  comment.addEventListener("input", () => { state.comment = comment.value; save(); });

  function segmented(name, n, get, set, extra) {
    const group = el("div", { class: "seg", role: "radiogroup", "aria-label": name });
    for (let v = 1; v <= n; v++) {
      group.append(el("button", { type: "button", role: "radio", "data-v": v, text: String(v), tabindex: "-1",
        onclick: () => { set(get() === v ? null : v); update(); } }));
    }
    if (extra) group.title = extra;
    return group;
  }

  data.candidates.forEach((c, i) => {
    const body = el("div", { class: data.markdown ? "rank-text md" : "rank-text" });
    if (data.markdown && c.html !== null) body.innerHTML = c.html;  // rendered by the server with raw HTML off
    else body.textContent = c.text;
    const flags = el("div", { class: "flags", role: "group", "aria-label": `Flags for ${c.label}` });
    data.flags.forEach((f, j) => flags.append(el("button", { type: "button", role: "checkbox", "data-flag": f.id, tabindex: "-1",
      text: f.name, title: `F then ${j + 1}`, onclick: () => { toggleFlag(i, f.id); } })));
    const card = el("section", { class: "rank-card", "data-label": c.label, onclick: () => { state.cur = i; paintCurrent(); } },
      el("div", { class: "rank-head" }, el("h4", { text: c.label }),
        el("div", { class: "ctl" }, el("span", { class: "cap", text: "Rank" }),
          segmented(`Rank of ${c.label}`, k, () => state.ranks[i], (v) => { state.ranks[i] = v; }, "1 is best")),
        el("div", { class: "ctl" }, el("span", { class: "cap", text: "Quality" }),
          segmented(`Quality of ${c.label}`, data.likert, () => state.likert[i], (v) => { state.likert[i] = v; },
            `1 = very bad … ${data.likert} = excellent`))),
      data.flags.length ? flags : null, body);
    cards.push(card);
  });

  function toggleFlag(i, id) {
    const f = state.flags[i];
    state.flags[i] = f.includes(id) ? f.filter((x) => x !== id) : [...f, id];
    update();
  }

  // The order strip: drag a letter to reorder; the order then sets ranks 1..K (no ties).
  function paintOrder() {
    order.replaceChildren();
    const idx = [...Array(k).keys()].sort((a, b) => (state.ranks[a] ?? 99) - (state.ranks[b] ?? 99) || a - b);
    idx.forEach((i) => {
      const chip = el("span", { class: "chip" + (state.ranks[i] === null ? " unranked" : ""), draggable: "true",
        "data-label": L[i], text: L[i] });
      chip.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/plain", String(i)); });
      chip.addEventListener("dragover", (e) => e.preventDefault());
      chip.addEventListener("drop", (e) => {
        e.preventDefault();
        const from = Number(e.dataTransfer.getData("text/plain"));
        const seq = idx.filter((x) => x !== from);
        seq.splice(seq.indexOf(i) + (idx.indexOf(from) < idx.indexOf(i) ? 1 : 0), 0, from);
        seq.forEach((x, pos) => { state.ranks[x] = pos + 1; });
        update();
      });
      order.append(chip);
    });
  }

  function paintCurrent() {
    cards.forEach((card, i) => card.classList.toggle("current", i === state.cur));
  }

  function update() {
    cards.forEach((card, i) => {
      const [rank, likert] = card.querySelectorAll(".seg");
      rank.querySelectorAll("button").forEach((b) => b.setAttribute("aria-checked", String(Number(b.dataset.v) === state.ranks[i])));
      likert.querySelectorAll("button").forEach((b) => b.setAttribute("aria-checked", String(Number(b.dataset.v) === state.likert[i])));
      card.querySelectorAll(".flags button").forEach((b) => b.setAttribute("aria-checked", String(state.flags[i].includes(b.dataset.flag))));
    });
    paintCurrent();
    paintOrder();
    none.checked = state.none;
    const verdict = check(state, data);
    orderText.textContent = `Your order: ${summary(state, data)}`;
    status.textContent = verdict.text;
    status.classList.toggle("bad", !verdict.ok);
    submit.disabled = !verdict.ok;
    save();
  }

  function send() {
    if (!check(state, data).ok) return;  // the page says why; a second press is harmless (same lease)
    state.comment = comment.value;
    save();
    setTriggerValue("submit", scope.attach({ ranks: state.ranks, likert: state.likert, flags: state.flags, none: state.none,
                                             comment: comment.value, aid: data.aid }));
  }

  const skipReason = el("input", { type: "text", class: "skip-reason", "aria-label": "Why skip it?",
    placeholder: "Why skip it? e.g. needs expertise I lack" });
  const skip = el("button", { type: "button", class: "rank-skip", text: "Skip task", onclick: () => {
    setTriggerValue("skip", scope.attach({ reason: skipReason.value, aid: data.aid }));
  } });

  const keys = el("details", { class: "rank-keys" }, el("summary", { text: "Keyboard" }),
    el("div", { text: `↓ / J next reply · ↑ / K previous · 1–${k} rank · Shift+1–${data.likert} quality · ` +
      (data.flags.length ? `F then 1–${data.flags.length} flag (${data.flags.map((f, j) => `${j + 1} ${f.name}`).join(", ")}) · ` : "") +
      "0 clears the rank · N none acceptable · / comment · Esc leaves the comment · Ctrl+Enter submits" }));
  const tiesRule = data.ties
    ? `Rank 1 (best) to ${k}. Equal ranks mark a tie, and the next rank skips: 1, 1, 3 (not 1, 1, 2).`
    : `Rank 1 (best) to ${k}, each rank once: no ties in this project.`;
  const layout = el("button", { type: "button", class: "rank-layout", "aria-pressed": "false", text: "Side by side",
    onclick: () => { const on = !root.classList.contains("side"); root.classList.toggle("side", on);
      layout.setAttribute("aria-pressed", String(on)); localStorage.setItem("labeler.rank.side", on ? "1" : ""); } });
  root.classList.toggle("side", !!localStorage.getItem("labeler.rank.side"));
  layout.setAttribute("aria-pressed", String(root.classList.contains("side")));

  root.replaceChildren(
    el("div", { class: "rank-bar" }, el("strong", { text: `${k} replies` }), el("span", { class: "rule", text: tiesRule }), layout),
    keys,
    ...(scope.node ? [scope.node] : []),
    el("div", { class: "rank-cards" }, ...cards),
    el("div", { class: "rank-foot" },
      el("div", { class: "rank-order-row" }, orderText, order),
      status,
      el("label", { class: "none" }, none, el("span", { text: "None of these is acceptable" })),
      el("label", { class: "comment-label", for: `comment-${data.aid}`, text: "Comment (optional)" }), comment,
      el("div", { class: "rank-actions" }, submit, el("span", { class: "hint", text: "Ctrl+Enter" }), skipReason, skip)));
  comment.value = state.comment;
  update();

  root.onkeydown = (e) => {
    const inText = e.target === comment || e.target === skipReason || e.target.tagName === "SELECT";  // the scope reason
    if ((e.ctrlKey || e.metaKey) && (e.key === "Enter" || e.key.toLowerCase() === "s")) {
      e.preventDefault(); e.stopPropagation(); send(); return;
    }
    if (inText) { if (e.key === "Escape") { state.comment = comment.value; save(); root.focus(); } return; }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const digit = /^Digit(\d)$/.exec(e.code), n = digit ? Number(digit[1]) : null;
    let handled = true;
    if (pendingFlag && n !== null) {
      pendingFlag = false;
      if (n >= 1 && n <= data.flags.length) toggleFlag(state.cur, data.flags[n - 1].id);
    } else if (e.key === "ArrowDown" || e.key === "j") { state.cur = Math.min(k - 1, state.cur + 1); paintCurrent(); cards[state.cur].scrollIntoView({ block: "nearest" }); }
    else if (e.key === "ArrowUp" || e.key === "k") { state.cur = Math.max(0, state.cur - 1); paintCurrent(); cards[state.cur].scrollIntoView({ block: "nearest" }); }
    else if (n !== null && e.shiftKey) { if (n >= 1 && n <= data.likert) { state.likert[state.cur] = n; update(); } }
    else if (n === 0) { state.ranks[state.cur] = null; update(); }
    else if (n !== null) { if (n <= k) { state.ranks[state.cur] = n; update(); } }
    else if (e.key === "f" || e.key === "F") pendingFlag = data.flags.length > 0;
    else if (e.key === "n" || e.key === "N") { state.none = !state.none; update(); }
    else if (e.key === "/") comment.focus();
    else handled = false;
    if (handled) { e.preventDefault(); e.stopPropagation(); }
  };
  if (fresh && sessionStorage.getItem("labeler.rank.shown") !== String(data.aid)) {
    sessionStorage.setItem("labeler.rank.shown", String(data.aid));  // a new task: start at the top
    requestAnimationFrame(() => scrollToTop(parentElement));
  }
  if (fresh) root.focus({ preventScroll: true });
}
