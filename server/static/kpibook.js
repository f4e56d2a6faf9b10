// Small behaviours of the web pages, attached by data attributes: the Content-Security-Policy
// (script-src 'self', docs/security.md) allows no inline scripts or event handlers.
document.addEventListener("click", (event) => {
  const target = event.target.closest("[data-print], [data-back]");
  if (!target) return;
  event.preventDefault();
  if (target.hasAttribute("data-print")) window.print();
  else history.back();
});
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
});
