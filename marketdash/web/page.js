// The page's own script: ui.setup_page fills $LANG, $WORDS and $PLOTLY; ui.py says what it does and why.
(() => {
  window.__md = {lang: "$LANG", words: $WORDS};
  const main = [...document.scripts].find(s => /\/static\/js\/index\.[\w-]+\.js$/.test(s.src));
  if (main && "$PLOTLY" && !window.__mdPlotly) {
    window.__mdPlotly = true;
    import(new URL("$PLOTLY", main.src).href).catch(() => {});
  }
  const fix = () => {
    document.documentElement.lang = window.__md.lang;
    document.querySelectorAll("[data-testid=stDateInput] [aria-label]").forEach(e => {
      const label = e.getAttribute("aria-label");
      const [head, ...rest] = label.split(", ");
      const said = window.__md.words[head];
      const next = said && [said, ...rest].join(", ");
      // Only a label that changes is written: writing the same one wakes this observer again, for ever (English).
      if (next && next !== label) e.setAttribute("aria-label", next);
    });
  };
  fix();
  if (window.__mdWatching) return;
  window.__mdWatching = true;
  new MutationObserver(fix).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                    attributeFilter: ["aria-label"]});
  document.addEventListener("keydown", e => {
    const field = e.key === "Enter" && e.target.closest && e.target.closest("[data-testid=stDateInput]");
    const form = field && field.closest("[data-testid=stForm]");
    if (!form) return;
    e.target.blur();
    setTimeout(() => {
      const apply = form.querySelector("[data-testid=stFormSubmitButton] button");
      if (apply) apply.click();
    }, 150);
  }, true);
})();
