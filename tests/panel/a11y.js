// An accessibility checker run in the page by the browser tests (Debian has no axe-core).
// Returns [{impact: "serious"|"moderate", rule, where, detail}]. It checks what is rendered now:
// hidden elements (display:none, visibility:hidden, [hidden], aria-hidden) are skipped.
// Rules: html lang, page title, landmarks (one main, a banner, named navs), headings (one h1,
// no skipped level), accessible names (form controls, buttons, links, images and SVG images,
// dialogs), label/aria references that point nowhere, duplicate ids, positive tabindex, an
// open modal dialog holds the focus, and the WCAG 2 contrast ratio of every visible text
// (4.5:1, 3:1 for large text), computed from the styles with the backgrounds behind it.
(function checkA11y() {
  const findings = [];
  const add = (impact, rule, el, detail) => findings.push({ impact, rule, where: describe(el), detail });

  function describe(el) {
    if (!el || !el.tagName) return 'document';
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    else if (el.className && typeof el.className === 'string') s += '.' + el.className.trim().split(/\s+/).join('.');
    const text = (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40);
    return text ? `${s} "${text}"` : s;
  }

  function hidden(el) {
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      if (e.hidden || e.getAttribute('aria-hidden') === 'true') return true;
      const cs = getComputedStyle(e);
      if (cs.display === 'none' || cs.visibility === 'hidden') return true;
      if (e.tagName === 'DIALOG' && !e.open) return true;
    }
    return false;
  }

  // Visually hidden but read by screen readers (our .visually-hidden, clip rect 1px boxes).
  function offscreen(el) {
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.clip && cs.clip !== 'auto' && e.getBoundingClientRect().width <= 1) return true;
      if (cs.position === 'absolute' && e.getBoundingClientRect().right < 0) return true;
    }
    return false;
  }

  const byId = (id) => document.getElementById(id);
  const textOf = (el) => (el ? (el.innerText || el.textContent || '').trim() : '');

  // The accessible name, simplified from accname 1.2: aria-labelledby, aria-label, <label>,
  // alt, <title> of svg, contents (for buttons, links), title attribute, placeholder last.
  function accName(el) {
    const lb = el.getAttribute('aria-labelledby');
    if (lb) {
      const t = lb.split(/\s+/).map((id) => textOf(byId(id)) || (byId(id) && byId(id).textContent.trim()) || '').join(' ').trim();
      if (t) return t;
    }
    const al = el.getAttribute('aria-label');
    if (al && al.trim()) return al.trim();
    if (el.labels && el.labels.length) {
      const t = Array.from(el.labels).map(textOf).join(' ').trim();
      if (t) return t;
    }
    if (el.tagName === 'IMG' || (el.tagName === 'INPUT' && el.type === 'image')) return (el.getAttribute('alt') || '').trim();
    if (el.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type)) return (el.value || '').trim();
    if (el.namespaceURI === 'http://www.w3.org/2000/svg') {
      const t = el.querySelector(':scope > title');
      if (t && t.textContent.trim()) return t.textContent.trim();
    }
    if (['BUTTON', 'A', 'SUMMARY', 'LEGEND', 'OPTION'].includes(el.tagName) || el.getAttribute('role') === 'button') {
      let t = '';
      el.querySelectorAll('img[alt]').forEach((i) => { t += ' ' + i.alt; });
      t = (textOf(el) + t).trim();
      if (t) return t;
    }
    const title = el.getAttribute('title');
    if (title && title.trim()) return title.trim();
    return '';
  }

  const all = Array.from(document.querySelectorAll('*'));
  const visible = all.filter((e) => !hidden(e));

  // Document.
  const lang = document.documentElement.getAttribute('lang');
  if (!lang || !/^[a-z]{2,3}(-[A-Za-z0-9]+)*$/.test(lang)) add('serious', 'html-lang', document.documentElement, `lang="${lang || ''}"`);
  if (!document.title.trim()) add('serious', 'document-title', null, 'empty <title>');

  // Landmarks.
  const mains = visible.filter((e) => e.tagName === 'MAIN' || e.getAttribute('role') === 'main');
  if (mains.length !== 1) add('serious', 'landmark-main', null, `${mains.length} main landmarks`);
  if (!visible.some((e) => (e.tagName === 'HEADER' && !e.closest('main,article,aside,section,nav')) || e.getAttribute('role') === 'banner')) {
    add('moderate', 'landmark-banner', null, 'no banner (page header)');
  }
  const navs = visible.filter((e) => e.tagName === 'NAV' || e.getAttribute('role') === 'navigation');
  if (navs.length > 1) navs.filter((n) => !accName(n)).forEach((n) => add('serious', 'landmark-nav-name', n, 'several navigation landmarks; this one has no name'));
  // Content outside every landmark (skip links and live regions excepted).
  const landmarkSel = 'header,nav,main,footer,aside,[role=banner],[role=navigation],[role=main],[role=contentinfo],[role=complementary],[role=region],dialog';
  visible.filter((e) => /^H[1-6]$|^P$|^BUTTON$|^INPUT$|^TABLE$/.test(e.tagName) && !e.closest(landmarkSel) && !offscreen(e))
    .forEach((e) => add('moderate', 'region', e, 'content outside every landmark'));

  // Headings (in the page, or in the open modal dialog when there is one).
  const modal = document.querySelector('dialog[open]');
  const scope = modal || document;
  const heads = Array.from(scope.querySelectorAll('h1,h2,h3,h4,h5,h6')).filter((e) => !hidden(e) && (modal || !e.closest('dialog')));
  if (!modal) {
    const h1s = heads.filter((e) => e.tagName === 'H1');
    if (h1s.length !== 1) add('serious', 'heading-h1', null, `${h1s.length} h1 elements`);
  }
  let prev = modal ? 1 : 0;
  for (const e of heads) {
    const lvl = Number(e.tagName[1]);
    if (lvl > prev + 1) add('serious', 'heading-order', e, `h${lvl} after h${prev}`);
    if (!textOf(e)) add('serious', 'heading-empty', e, 'empty heading');
    prev = lvl;
  }

  // Names.
  for (const e of visible) {
    const tag = e.tagName;
    const role = e.getAttribute('role');
    if ((tag === 'INPUT' && !['hidden', 'submit', 'button', 'reset', 'image'].includes(e.type)) || tag === 'SELECT' || tag === 'TEXTAREA') {
      if (!accName(e)) add('serious', 'control-name', e, 'form control without a label');
    } else if (tag === 'BUTTON' || (tag === 'INPUT' && ['submit', 'button', 'reset'].includes(e.type)) || role === 'button') {
      if (!accName(e)) add('serious', 'button-name', e, 'button without a name');
    } else if (tag === 'A' && e.hasAttribute('href')) {
      if (!accName(e)) add('serious', 'link-name', e, 'link without a name');
    } else if (tag === 'IMG') {
      if (!e.hasAttribute('alt')) add('serious', 'image-alt', e, 'img without alt');
    } else if (e.namespaceURI === 'http://www.w3.org/2000/svg' && tag.toLowerCase() === 'svg') {
      if (role === 'img' && !accName(e)) add('serious', 'svg-img-name', e, 'svg role=img without a name');
      if (!role && e.getAttribute('aria-hidden') !== 'true' && !e.closest('button,a') && !accName(e)) add('moderate', 'svg-role', e, 'svg neither role=img nor aria-hidden');
    } else if (tag === 'DIALOG' || role === 'dialog' || role === 'alertdialog') {
      if (!accName(e)) add('serious', 'dialog-name', e, 'dialog without a name');
    } else if (tag === 'CANVAS' && !e.closest('[aria-hidden=true],.xterm')) {
      if (!e.getAttribute('role') || !accName(e)) add('serious', 'canvas-name', e, 'canvas without role and name');
    } else if (tag === 'METER' || tag === 'PROGRESS') {
      if (!accName(e)) add('serious', 'meter-name', e, `${tag.toLowerCase()} without a name`);
    }
  }

  // References, ids, tabindex.
  const ids = new Map();
  for (const e of all) {
    if (e.id) ids.set(e.id, (ids.get(e.id) || 0) + 1);
    for (const attr of ['aria-labelledby', 'aria-describedby', 'aria-controls']) {
      const v = e.getAttribute(attr);
      if (v) v.split(/\s+/).filter(Boolean).forEach((id) => { if (!byId(id)) add('serious', 'aria-reference', e, `${attr} names missing id ${id}`); });
    }
    if (e.tagName === 'LABEL' && e.htmlFor && !byId(e.htmlFor)) add('serious', 'label-for', e, `label for missing id ${e.htmlFor}`);
    const ti = e.getAttribute('tabindex');
    if (ti !== null && Number(ti) > 0) add('serious', 'tabindex-positive', e, `tabindex=${ti}`);
  }
  for (const [id, n] of ids) if (n > 1) add('serious', 'duplicate-id', byId(id), `id ${id} used ${n} times`);

  // An open modal dialog has the focus.
  if (modal && !modal.contains(document.activeElement)) add('serious', 'dialog-focus', modal, `focus is on ${describe(document.activeElement)}, outside the open dialog`);

  // Contrast.
  function parse(c) {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  }
  const blend = (fg, bg) => ({ r: fg.r * fg.a + bg.r * (1 - fg.a), g: fg.g * fg.a + bg.g * (1 - fg.a), b: fg.b * fg.a + bg.b * (1 - fg.a), a: 1 });
  function background(el) {
    const layers = [];
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    for (let i = layers.length - 1; i >= 0; i--) bg = blend(layers[i], bg);
    return bg;
  }
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  for (const e of visible) {
    if (e.closest('.xterm, svg, option') || offscreen(e)) continue;
    if (e.disabled || e.closest('[disabled]') || e.getAttribute('aria-disabled') === 'true') continue; // WCAG 1.4.3: inactive
    const hasText = Array.from(e.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    const isField = (e.tagName === 'INPUT' && e.value) || e.tagName === 'SELECT';
    if (!hasText && !isField) continue;
    const cs = getComputedStyle(e);
    const fg = parse(cs.color);
    if (!fg) continue;
    const bg = background(e);
    const r = ratio(fg.a < 1 ? blend(fg, bg) : fg, bg);
    const size = parseFloat(cs.fontSize);
    const bold = Number(cs.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (r < need) add('serious', 'color-contrast', e, `contrast ${r.toFixed(2)}:1 < ${need}:1 (${cs.color} on rgb(${Math.round(bg.r)}, ${Math.round(bg.g)}, ${Math.round(bg.b)}))`);
  }
  // SVG chart text (axis labels) against the chart's box.
  for (const t of document.querySelectorAll('svg text')) {
    if (hidden(t)) continue;
    const fg = parse(getComputedStyle(t).fill);
    if (!fg) continue;
    const r = ratio(fg, background(t.closest('svg').parentElement));
    if (r < 4.5) add('serious', 'color-contrast', t, `svg text contrast ${r.toFixed(2)}:1`);
  }
  return findings;
})();
