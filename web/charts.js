// takedown console: small SVG charts of its own (no library). Each chart is an <svg role="img">
// with a <title> and <desc> saying what it shows in words, and a table of the numbers drawn
// beside it, so that the figures are readable without the picture (screen readers, copying).
// Data are put in the page as text only.
'use strict';

(function () {
  const NS = 'http://www.w3.org/2000/svg';

  function svgEl(parent, tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    if (parent) parent.append(e);
    return e;
  }

  function htmlEl(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // A number in the table and the labels: integers as they are, others to 2 decimals.
  function num(v) {
    return Number.isInteger(v) ? String(v) : v.toFixed(2);
  }

  // bars(opts) -> <figure class="chart"> holding the SVG and the numbers' table.
  //   opts.id        id of the figure (the SVG gets id + '-svg', the table id + '-table')
  //   opts.title     what the chart shows (the SVG's <title> and the figure's caption)
  //   opts.items     [{label, value}], drawn in this order
  //   opts.unit      the values' unit, in words (column header and description)
  //   opts.category  the header of the labels' column
  //   opts.marker    optional {index, label}: a dashed vertical line before bar `index`
  //                  (e.g. the one-hour line of a distribution)
  //   opts.highlight optional function(item, i) -> true for bars drawn in the warning colour
  function bars(opts) {
    const items = opts.items || [];
    const W = 640, H = 220, L = 44, R = 12, T = 16, B = 48;
    const max = Math.max(1, ...items.map((x) => x.value));
    const total = items.reduce((a, x) => a + x.value, 0);
    const n = Math.max(items.length, 1);
    const slot = (W - L - R) / n;
    const bw = Math.max(2, Math.min(56, slot - 4));
    const figure = htmlEl('figure', { class: 'chart', id: opts.id });
    const svg = svgEl(null, 'svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'chart-svg', role: 'img',
      id: opts.id + '-svg', 'aria-labelledby': opts.id + '-svg-title ' + opts.id + '-svg-desc' });
    svgEl(svg, 'title', { id: opts.id + '-svg-title' }, opts.title);
    const top = items.length ? items.reduce((a, x) => (x.value > a.value ? x : a), items[0]) : null;
    svgEl(svg, 'desc', { id: opts.id + '-svg-desc' }, items.length === 0 ? 'No data in the period.'
      : items.length + ' bars, ' + num(total) + ' ' + opts.unit + ' in all; the largest: ' +
        top.label + ' with ' + num(top.value) + '.' + (opts.marker ? ' Dashed line: ' + opts.marker.label + '.' : ''));
    // Axis and a scale mark at the top.
    svgEl(svg, 'line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'chart-axis' });
    svgEl(svg, 'line', { x1: L, y1: T, x2: L, y2: H - B, class: 'chart-axis' });
    svgEl(svg, 'text', { x: L - 4, y: T + 4, class: 'chart-label', 'text-anchor': 'end' }, num(max));
    svgEl(svg, 'text', { x: L - 4, y: H - B, class: 'chart-label', 'text-anchor': 'end' }, '0');
    const every = Math.max(1, Math.ceil(items.length / 12)); // at most ~12 labels under the axis
    items.forEach((x, i) => {
      const hgt = Math.round((H - T - B) * x.value / max);
      const left = L + i * slot + (slot - bw) / 2;
      const warn = opts.highlight ? opts.highlight(x, i) : false;
      const bar = svgEl(svg, 'rect', { x: left.toFixed(1), y: H - B - hgt, width: bw.toFixed(1), height: hgt,
        class: warn ? 'chart-bar chart-bar-warn' : 'chart-bar', 'data-label': x.label, 'data-value': x.value });
      svgEl(bar, 'title', null, x.label + ': ' + num(x.value) + ' ' + opts.unit);
      if (x.value > 0 && bw >= 14)
        svgEl(svg, 'text', { x: (left + bw / 2).toFixed(1), y: H - B - hgt - 3, class: 'chart-label',
          'text-anchor': 'middle' }, num(x.value));
      if (i % every === 0)
        svgEl(svg, 'text', { x: (left + bw / 2).toFixed(1), y: H - B + 14, class: 'chart-label',
          'text-anchor': 'middle' }, x.short || x.label);
    });
    if (opts.marker && items.length) {
      const mx = L + opts.marker.index * slot;
      svgEl(svg, 'line', { x1: mx.toFixed(1), y1: T - 6, x2: mx.toFixed(1), y2: H - B + 4, class: 'chart-marker' });
      svgEl(svg, 'text', { x: (mx + 4).toFixed(1), y: T + 2, class: 'chart-label' }, opts.marker.label);
    }
    if (!items.length)
      svgEl(svg, 'text', { x: W / 2, y: H / 2, class: 'chart-label', 'text-anchor': 'middle' }, 'No data in the period');
    const rows = items.map((x) => htmlEl('tr', null, htmlEl('th', { scope: 'row' }, x.label),
      htmlEl('td', { class: 'num' }, num(x.value))));
    rows.push(htmlEl('tr', { class: 'total' }, htmlEl('th', { scope: 'row' }, 'total'),
      htmlEl('td', { class: 'num' }, num(total))));
    const table = htmlEl('table', { id: opts.id + '-table', class: 'chart-table' },
      htmlEl('caption', { class: 'visually-hidden' }, opts.title),
      htmlEl('thead', null, htmlEl('tr', null, htmlEl('th', { scope: 'col' }, opts.category || ''),
        htmlEl('th', { scope: 'col' }, opts.unit))),
      htmlEl('tbody', null, rows));
    figure.append(htmlEl('figcaption', null, opts.title),
      htmlEl('div', { class: 'chart-pair' }, htmlEl('div', { class: 'chart-box' }, svg),
        htmlEl('div', { class: 'table-wrap' }, table)));
    return figure;
  }

  // Counts values into buckets: edges [e0, e1, ...] give buckets [0,e0), [e0,e1), ..., [last, inf).
  function histogram(values, edges, label) {
    const counts = new Array(edges.length + 1).fill(0);
    for (const v of values) {
      let i = 0;
      while (i < edges.length && v >= edges[i]) i++;
      counts[i]++;
    }
    return counts.map((c, i) => ({
      label: label(i === 0 ? 0 : edges[i - 1], i < edges.length ? edges[i] : null),
      value: c,
      from: i === 0 ? 0 : edges[i - 1],
      to: i < edges.length ? edges[i] : null,
    }));
  }

  window.TDCharts = { bars, histogram };
})();
