// The in-browser console: xterm.js (Debian's 3.8.1, panel/vendor/xterm, made by
// scripts/panel-vendor.sh) on the websocket /v1/cts/{ctid}/console?kind=console|shell.
// Binary frames carry terminal bytes both ways; a text frame {"type":"resize"} tells the size.
// screenReaderMode keeps the visible rows in the DOM (.xterm-accessibility), for screen readers
// and for the browser test, which reads a command's output there.
import { consoleUrl } from './api.js';
import { h } from './ui.js';

export class ConsoleView {
  constructor(ctid, onStatus) {
    this.ctid = ctid;
    this.onStatus = onStatus;
    this.term = null;
    this.ws = null;
    this.box = h('div', { class: 'terminal', 'aria-label': `Terminal of VPS ${ctid}`, role: 'group' });
    this.resizeObserver = null;
  }

  async connect(kind) {
    this.disconnect();
    const { Terminal } = await import('../vendor/xterm/xterm.js');
    this.box.replaceChildren();
    const term = new Terminal({ cursorBlink: true, screenReaderMode: true, scrollback: 2000,
      fontFamily: 'DejaVu Sans Mono, Liberation Mono, monospace', fontSize: 14,
      theme: { background: '#111111', foreground: '#e8e8e8' } });
    this.term = term;
    term.open(this.box);
    try { term.fit(); } catch { /* not laid out yet */ }
    const ws = new WebSocket(consoleUrl(this.ctid, kind));
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    const enc = new TextEncoder();
    const dec = new TextDecoder();
    const sendSize = () => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows }));
    };
    ws.onopen = () => { this.onStatus(`Connected to the ${kind} of VPS ${this.ctid}.`, true); sendSize(); term.focus(); };
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') term.write(ev.data);
      else term.write(dec.decode(new Uint8Array(ev.data), { stream: true }));
    };
    ws.onclose = (ev) => {
      if (this.ws === ws) {
        this.onStatus(`Disconnected${ev.reason ? ': ' + ev.reason : ''}.`, false);
        this.ws = null;
      }
    };
    ws.onerror = () => this.onStatus('The console connection failed.', false);
    // Every key goes to the VPS while the terminal has the focus (Tab too); Ctrl+] (telnet's
    // escape key) leaves it, so keyboard users are never trapped (WCAG 2.1.2).
    term.attachCustomKeyEventHandler((ev) => {
      if (ev.type === 'keydown' && ev.ctrlKey && (ev.key === ']' || ev.code === 'BracketRight')) {
        ev.preventDefault();
        if (this.onEscape) this.onEscape();
        return false;
      }
      return true;
    });
    term.on('data', (data) => { if (ws.readyState === WebSocket.OPEN) ws.send(enc.encode(data)); });
    term.on('resize', sendSize);
    this.resizeObserver = new ResizeObserver(() => { try { term.fit(); } catch { /* hidden */ } });
    this.resizeObserver.observe(this.box);
  }

  disconnect() {
    if (this.resizeObserver) { this.resizeObserver.disconnect(); this.resizeObserver = null; }
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(); }
    if (this.term) { this.term.dispose(); this.term = null; }
  }
}
