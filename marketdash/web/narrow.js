// Charts on a phone (added to every page by ui.setup_page). Plotly writes a title, its note and an axis title on one
// SVG line each, and the end labels keep the 150 px they take on a desktop: at 390 px the words ran off the chart
// and the lines had a third of its width. On a chart narrower than NARROW px the long texts are wrapped to its width,
// the end labels get a smaller type and less room, and a date axis fewer ticks; wider again, the chart is as the
// server drew it. A chart already fitted carries layout.meta = MARK, so its own redraw never sets this off again
// (a script that wakes itself froze the tab once: issue 29.1).
(() => {
  if (window.__mdCharts) return;
  window.__mdCharts = true;
  const NARROW = 640, MARK = "md-narrow", SUP = 0.7, LINE = 1.3;
  // Tags spelled with \u003c: Streamlit's sanitizer drops a script whose text holds a "<" before a letter or "/".
  const BR = "\u003cbr>", OPEN = "\u003csup>", CLOSE = "\u003c/sup>", TAGS = /\u003c[^>]+>/g, SUPS = /\u003c\/?sup>/g;
  const pen = document.createElement("canvas").getContext("2d");
  const measure = (text, px, family, weight = "normal") => {
    pen.font = `${weight} ${px}px ${family}`;
    return pen.measureText(text.replace(TAGS, "")).width;
  };
  // Words to lines no wider than `room`; a word wider than the room has a line of its own.
  const lines = (text, px, family, room, weight) => {
    const out = [];
    let line = "";
    for (const word of text.split(" ")) {
      const next = line ? `${line} ${word}` : word;
      if (line && measure(next, px, family, weight) > room) {
        out.push(line);
        line = word;
      } else line = next;
    }
    return line ? [...out, line] : out;
  };
  const get = (obj, path) => path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
  const text = t => (t && typeof t === "object" ? t.text : t) || "";

  // What changes on a narrow chart: {"layout.path": value}.
  const narrowed = gd => {
    // the title starts some 20 px in from the chart's left edge
    const full = gd._fullLayout, layout = gd.layout, family = full.font.family, room = full.width - 36;
    const edits = {};
    const title = text(layout.title);
    if (title) {
      const px = get(full, "title.font.size") || 17;
      let added = 0;
      const [, bold, body, unbold] = title.match(/^((?:\u003cb>)*)([\s\S]*?)((?:\u003c\/b>)*)$/);  // Streamlit's bold
      const parts = body.split(BR).map(part => {
        const sup = part.startsWith(OPEN);
        const words = part.replace(SUPS, "");
        const split = lines(words, sup ? px * SUP : px, family, room, bold ? "bold" : "normal");
        added += (split.length - 1) * px * LINE;  // a line of a note is as tall as a line of the title
        return split.map(l => (sup ? OPEN + l + CLOSE : l)).join(BR);
      });
      if (added > 0) {
        edits["title.text"] = bold + parts.join(BR) + unbold;
        edits["margin.t"] = (get(layout, "margin.t") || 80) + added;
      }
    }
    for (const axis of ["xaxis", "yaxis"]) {
      const said = text(get(layout, `${axis}.title`));
      const px = get(full, `${axis}.title.font.size`) || 14;
      const span = axis === "xaxis" ? full._size.w : full._size.h;
      if (said && measure(said, px, family) > span) {
        edits[`${axis}.title.text`] = lines(said, px, family, span).join(BR);
        edits[`${axis}.automargin`] = true;
      }
      if (axis === "xaxis" && get(full, "xaxis.type") === "date") edits["xaxis.nticks"] = 4;
      // a heatmap's asset names in a smaller type, so that slanted ones do not run together
      if ((gd.data || []).some(t => t.type === "heatmap") && (get(full, `${axis}._categories`) || []).length > 4) {
        edits[`${axis}.tickfont.size`] = 9;
      }
    }
    const labels = (layout.annotations || []).filter(a => a.xref === "paper" && a.x >= 1);
    if (labels.length && (get(layout, "margin.r") || 0) > 100) {
      edits["margin.r"] = 96;
      (layout.annotations || []).forEach((a, i) => {
        if (labels.includes(a)) edits[`annotations[${i}].font.size`] = 9;
      });
    }
    return edits;
  };

  const fit = gd => {
    const full = gd._fullLayout, layout = gd.layout;
    if (!full || !layout || !window.Plotly) return;
    const narrow = full.width < NARROW, fitted = layout.meta === MARK;
    if (narrow && !fitted) {
      const edits = narrowed(gd);
      const before = k => get(layout, k.replace(/\[(\d+)\]/g, ".$1"));
      gd.__mdWide = Object.fromEntries(Object.keys(edits).map(k => [k, before(k) === undefined ? null : before(k)]));
      window.Plotly.relayout(gd, {...edits, meta: MARK});
    } else if (!narrow && fitted) {
      window.Plotly.relayout(gd, {...(gd.__mdWide || {}), meta: null});
    }
  };

  let due = false;
  const watch = () => {  // at most once a frame, however many nodes a rerun adds
    if (due) return;
    due = true;
    requestAnimationFrame(() => {
      due = false;
      document.querySelectorAll(".js-plotly-plot").forEach(gd => {
        if (!gd.__mdFit && typeof gd.on === "function") {
          gd.__mdFit = true;
          gd.on("plotly_afterplot", () => fit(gd));
        }
        fit(gd);
      });
    });
  };
  new MutationObserver(watch).observe(document.body, {subtree: true, childList: true});
  watch();
})();
