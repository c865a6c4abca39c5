#!/usr/bin/env bash
# Puts the panel's third-party files into panel/vendor/ (or the directory given as $1) from
# Debian packages, with their copyright files; nothing is fetched from the network and nothing
# third-party is kept in git (panel/vendor/ is ignored). setup.sh and the browser tests run it.
#
# xterm.js 3.8.1 (the terminal emulator of the panel's console): bookworm's libjs-xterm
# (3.8.1+~cs0.9.0-1+deb12u1) ships a browser bundle that is a 288-byte stub requiring
# "./public/Terminal", which a browser cannot load. node-xterm (same source package) ships the
# compiled CommonJS modules; this script joins them (and libjs-xterm's fit addon) into one ES
# module, vendor/xterm/xterm.js, with a 20-line module table instead of a bundler: each file is
# wrapped in a function unchanged, and require() resolves relative paths in that table.
# No eval, so the panel's strict CSP (script-src 'self') holds.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-panel/vendor}
lib=/usr/share/nodejs/xterm/lib
css=/usr/share/javascript/xterm/xterm.css
fit=/usr/share/javascript/xterm/addons/fit/fit.js
for f in "$lib/public/Terminal.js" "$css" "$fit"; do
  [ -e "$f" ] || { echo "panel-vendor.sh: $f missing (scripts/install-deps.sh installs node-xterm, libjs-xterm)" >&2; exit 1; }
done
mkdir -p "$out/xterm"
python3 - "$lib" "$fit" "$out/xterm/xterm.js" <<'PY'
import json, os, re, sys
lib, fit, dest = sys.argv[1:4]
mods = {}
for d, _, files in os.walk(lib):
    for f in sorted(files):
        if f.endswith('.js') and not f.endswith('.test.js'):
            p = os.path.join(d, f)
            mods[os.path.relpath(p, lib)[:-3]] = open(p, encoding='utf-8').read()
mods['addons/fit/fit'] = open(fit, encoding='utf-8').read()
parts = ['// xterm.js 3.8.1 from Debian\'s node-xterm and libjs-xterm (MIT/Expat licence: COPYRIGHT.node-xterm\n'
         '// beside this file), joined into one ES module by scripts/panel-vendor.sh. Generated; do not edit.\n'
         'const defs = Object.create(null);\n']
for name in sorted(mods):
    src = re.sub(r'^//# sourceMappingURL=.*$', '', mods[name], flags=re.M)
    parts.append('defs[%s] = function (exports, require, module) {\n%s\n};\n' % (json.dumps(name), src))
parts.append('''const cache = Object.create(null);
function resolve(from, rel) {
  const out = from.split('/').slice(0, -1);
  for (const seg of rel.split('/')) {
    if (seg === '..') out.pop(); else if (seg !== '.') out.push(seg);
  }
  return out.join('/');
}
function load(name) {
  if (cache[name]) return cache[name].exports;
  if (!defs[name]) throw new Error('xterm bundle: no module ' + name);
  const module = { exports: {} };
  cache[name] = module;
  defs[name].call(module.exports, module.exports, (rel) => load(resolve(name, rel)), module);
  return module.exports;
}
export const Terminal = load('public/Terminal').Terminal;
Terminal.applyAddon(load('addons/fit/fit'));
export default Terminal;
''')
open(dest, 'w', encoding='utf-8').write(''.join(parts))
PY
cp "$css" "$out/xterm/xterm.css"
cp /usr/share/doc/node-xterm/copyright "$out/xterm/COPYRIGHT.node-xterm"
cp /usr/share/doc/libjs-xterm/copyright "$out/xterm/COPYRIGHT.libjs-xterm"
echo "panel-vendor.sh: $out/xterm (xterm.js $(wc -c <"$out/xterm/xterm.js") bytes, xterm.css, copyright files)"
