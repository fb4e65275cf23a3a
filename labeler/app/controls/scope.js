// The scope question, drawn alike by the Rank task and the Demonstrate editor (controls/__init__.py
// prepends this file to both modules): "Should the assistant answer this prompt?" Answerable or
// Off-limits, and for off-limits a reason among the project's. A choice costs no server run: it is
// kept in sessionStorage under the lease (a rerun or a reload keeps it) and travels with the
// control's own values (Submit, Skip, the editor's draft).
const SCOPE_STORE = (aid) => `labeler.scope.${aid}`;
const SCOPE_LABELS = [["answerable", "Answerable"], ["off-limits", "Off-limits"]];
const SCOPE_QUESTION = "Should the assistant answer this prompt?";

// data.scope: {label, reason, reasons} (the labeler's stored vote and the project's reasons), absent
// when the project collects no scope labels. Returns {node, value(), attach(sent)}: the block to place
// (null when absent), the choice ({label, reason}), and `sent` with the choice added as `scope`.
function scopeBlock(data) {
  if (!data.scope) return { node: null, value: () => undefined, attach: (sent) => sent };
  const reasons = data.scope.reasons || [];
  let choice = { label: data.scope.label ?? null, reason: data.scope.reason ?? null };
  try {
    const saved = JSON.parse(sessionStorage.getItem(SCOPE_STORE(data.aid)) || "null");
    if (saved && typeof saved === "object" && "label" in saved) choice = { label: saved.label ?? null, reason: saved.reason ?? null };
  } catch (e) { /* a damaged entry: the stored vote */ }
  if (choice.reason !== null && !reasons.includes(choice.reason)) choice.reason = null;

  const make = (tag, attrs, text) => {
    const node = document.createElement(tag);
    for (const [name, v] of Object.entries(attrs)) node.setAttribute(name, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const group = make("div", { class: "scope-choice", role: "radiogroup", "aria-label": SCOPE_QUESTION });
  const buttons = SCOPE_LABELS.map(([id, name]) => {
    const button = make("button", { type: "button", role: "radio", "data-scope": id, title: "Click again to withdraw" }, name);
    button.addEventListener("click", () => {
      choice = { label: choice.label === id ? null : id, reason: id === "off-limits" ? choice.reason : null };
      changed();
    });
    group.append(button);
    return button;
  });
  const select = make("select", { class: "scope-reason", "aria-label": "Reason (optional)" });
  select.append(make("option", { value: "" }, "no reason given"),
    ...reasons.map((r) => make("option", { value: r }, r.replaceAll("_", " "))));
  select.addEventListener("change", () => { choice.reason = select.value || null; changed(); });
  const reasonRow = make("label", { class: "scope-reason-row" });
  reasonRow.append(make("span", {}, "Reason (optional)"), select);
  const node = make("div", { class: "scope-block" });
  node.append(make("span", { class: "scope-question" }, SCOPE_QUESTION), group, reasonRow,
    make("span", { class: "scope-hint" }, "Off-limits: a prompt the assistant should decline (outside its scope, " +
      "unsafe, …). Stored with your work."));

  function paint() {
    buttons.forEach((b) => b.setAttribute("aria-checked", String(b.dataset.scope === choice.label)));
    reasonRow.hidden = !(choice.label === "off-limits" && reasons.length);
    select.value = choice.reason || "";
  }
  function changed() {
    sessionStorage.setItem(SCOPE_STORE(data.aid), JSON.stringify(choice));
    paint();
  }
  paint();
  const value = () => ({ label: choice.label, reason: choice.label === "off-limits" ? choice.reason : null });
  return { node, value, attach: (sent) => ({ ...sent, scope: value() }) };
}
