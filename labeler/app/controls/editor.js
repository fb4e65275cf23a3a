// The Demonstrate editor as one client-side control: the turns the labeler writes, saved as a draft
// at most DEBOUNCE_MS after the last keystroke (a state value: one server run per pause, never per
// key), Ctrl+Enter submits whatever box has focus (a trigger value carrying the text just typed),
// Skip task sends the reason typed beside it (a trigger value). The scope question (scopeBlock, from
// scope.js, prepended to this module) is kept in sessionStorage under the lease and travels with the
// draft, the submit and the skip: choosing costs no server run.
const DEBOUNCE_MS = 800;

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

const label = (i) => (i === 0 ? "Assistant reply" : `${i % 2 ? "User" : "Assistant"} turn ${i + 1}`);
const role = (i) => (i % 2 ? "user" : "assistant");

export default function (component) {
  const { parentElement, data, setStateValue, setTriggerValue } = component;
  const root = parentElement.querySelector(".editor-root") || el("div", { class: "editor-root" });
  if (!root.isConnected) parentElement.append(root);
  const version = `${data.aid}:${data.rev}`;
  if (root.dataset.version === version) return;  // a rerun of the same text: keep the boxes (and the caret)
  const fresh = root.dataset.aid !== String(data.aid);
  root.dataset.version = version;
  root.dataset.aid = String(data.aid);
  let timer = null;
  const scope = scopeBlock(data);
  const status = el("span", { class: "editor-status", role: "status", "aria-live": "polite" });
  const boxes = el("div", { class: "editor-turns" });
  const turns = () => [...boxes.querySelectorAll("textarea")].map((box, i) => ({ role: role(i), content: box.value }));
  const saveNow = () => {
    clearTimeout(timer);
    timer = null;
    setStateValue("draft", scope.attach({ aid: data.aid, turns: turns() }));
    status.textContent = "Draft saved";
  };
  const changed = () => {
    status.textContent = "Editing…";
    clearTimeout(timer);
    timer = setTimeout(saveNow, DEBOUNCE_MS);
  };

  function addBox(i, text) {
    const id = `turn-${data.aid}-${i}`;
    const box = el("textarea", { id, class: role(i), rows: role(i) === "assistant" ? "9" : "4",
      placeholder: role(i) === "assistant" ? "Write the reply a helpful, honest and harmless assistant would give."
        : "What the user says next.", oninput: changed });
    box.value = text;
    boxes.append(el("div", { class: `turn ${role(i)}` }, el("label", { for: id, text: label(i) }), box));
    return box;
  }
  (data.turns.length ? data.turns : [{ content: "" }]).forEach((t, i) => addBox(i, t.content || ""));

  const remove = el("button", { type: "button", text: "Remove the last two turns", onclick: () => {
    const all = boxes.querySelectorAll(".turn");
    if (all.length > 1) { all[all.length - 1].remove(); all[all.length - 2].remove(); }
    remove.hidden = boxes.querySelectorAll(".turn").length <= 1;
    saveNow();
  } });
  const add = el("button", { type: "button", text: "Add a user turn and reply", onclick: () => {
    const n = boxes.querySelectorAll(".turn").length;
    const box = addBox(n, "");
    addBox(n + 1, "");
    remove.hidden = false;
    box.focus();
    saveNow();
  } });
  remove.hidden = boxes.querySelectorAll(".turn").length <= 1;
  const submit = el("button", { type: "button", class: "editor-submit", text: "Submit demonstration",
    onclick: () => send() });
  function send() {
    clearTimeout(timer);
    timer = null;
    setTriggerValue("submit", scope.attach({ aid: data.aid, turns: turns() }));
  }
  const skipReason = el("input", { type: "text", class: "skip-reason", "aria-label": "Why skip it?",
    placeholder: "Why skip it? e.g. needs expertise I lack, unclear prompt" });
  const skip = el("button", { type: "button", class: "editor-skip", text: "Skip task", onclick: () => {
    clearTimeout(timer);  // the task goes back to the queue: its pending draft is not needed
    timer = null;
    setTriggerValue("skip", scope.attach({ aid: data.aid, reason: skipReason.value }));
  } });
  root.replaceChildren(...(scope.node ? [scope.node] : []), boxes, el("div", { class: "editor-actions" }, add, remove),
    el("div", { class: "editor-actions" }, submit, el("span", { class: "hint", text: "Ctrl+Enter" }), status,
      skipReason, skip));
  root.onkeydown = (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); e.stopPropagation(); send(); }
  };
  // Leaving the page (reload, close, another page): save what the debounce has not sent yet.
  const flush = () => { if (timer) saveNow(); };
  window.addEventListener("pagehide", flush);
  if (fresh) {
    const first = boxes.querySelector("textarea");
    if (first) first.focus({ preventScroll: true });
  }
  return () => window.removeEventListener("pagehide", flush);
}
