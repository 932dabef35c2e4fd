// One MicroPython VM (the official WebAssembly port) in a worker thread; test/helpers/micropython-vm.ts
// drives it. Plain JavaScript: a worker does not get tsx's loader.
//
// The worker gives the VM its host: an in-memory filesystem filled from workerData.files, stdout and
// stderr as lines, and a module `vm_host` the Python side imports for the CAN bridge
// (can_send / can_recv) and to report a reboot or a reset, each with its flash as it is at that moment. With workerData.clock === 'virtual', Date.now and
// setTimeout in this worker (the port's only clock and scheduler) run on virtual time that moves only
// when the driver calls advance(ms), so simulated minutes take seconds.
import { parentPort, workerData } from 'node:worker_threads';

const { heapBytes, pystackWords, files, cwd, clock } = workerData;
const post = (message) => parentPort.postMessage(message);

// --- virtual time ------------------------------------------------------------------------------
const virtual = clock === 'virtual';
let now = Date.now();
const timers = new Map();
let nextTimer = 1;
if (virtual) {
  Date.now = () => now;
  globalThis.setTimeout = (fn, ms = 0, ...args) => {
    const id = nextTimer++;
    timers.set(id, { at: now + Math.max(0, Number(ms) || 0), fn, args });
    return id;
  };
  globalThis.clearTimeout = (id) => void timers.delete(id);
}

/** Runs every timer due up to now + ms in time order, moving the clock to each; then sets it to the end. */
function advance(ms) {
  const end = now + ms;
  for (;;) {
    let first;
    for (const [id, t] of timers) if (t.at <= end && (!first || t.at < first[1].at)) first = [id, t];
    if (!first) break;
    timers.delete(first[0]);
    now = Math.max(now, first[1].at);
    first[1].fn(...first[1].args);
  }
  now = end;
}

// --- the VM --------------------------------------------------------------------------------------
const { loadMicroPython } = await import('@micropython/micropython-webassembly-pyscript');
const mp = await loadMicroPython({
  heapsize: heapBytes,
  pystack: pystackWords,
  stdout: (text) => post({ type: 'line', stream: 'stdout', text }),
  stderr: (text) => post({ type: 'line', stream: 'stderr', text }),
});
for (const [path, content] of Object.entries(files)) {
  mp.FS.mkdirTree(path.slice(0, path.lastIndexOf('/')) || '/');
  mp.FS.writeFile(path, content);
}
if (cwd) mp.FS.mkdirTree(cwd);

const inbox = [];
mp.registerJsModule('vm_host', {
  /** A frame from the node: hex data, as the bridge's Python side sends it. */
  can_send: (canId, hex) => {
    post({ type: 'frame', frame: { id: canId, data: hex } });
    return true;
  },
  /** The oldest frame from the bus as [id, hex, ext, rtr], or null. */
  can_recv: () => {
    const f = inbox.shift();
    return f ? [f.id, f.data, f.ext ? 1 : 0, f.rtr ? 1 : 0] : null;
  },
  /** main.py's last resort ran: the node would reset the board now. */
  reboot: (reason) => post({ type: 'reboot', reason: String(reason), flash: readTree(cwd || '/') }),
  /** machine.reset(): the firmware resets itself (after an update, or to roll one back). */
  reset: () => post({ type: 'reset', flash: readTree(cwd || '/') }),
});
mp.runPython(`import os, sys\nos.chdir(${JSON.stringify(cwd || '/')})\nsys.path.insert(0, "")
def _mem_info():
    import micropython
    micropython.mem_info()
`);

function readTree(dir) {
  const out = {};
  for (const name of mp.FS.readdir(dir)) {
    if (name === '.' || name === '..') continue;
    const path = `${dir === '/' ? '' : dir}/${name}`;
    if (mp.FS.isDir(mp.FS.stat(path).mode)) Object.assign(out, readTree(path));
    else out[path] = mp.FS.readFile(path);
  }
  return out;
}

function pythonError(error) {
  return { type: error?.type ?? error?.name ?? 'Error', message: String(error?.message ?? error) };
}

parentPort.on('message', (message) => {
  if (message.type === 'frame') {
    inbox.push(message.frame);
    return;
  }
  const reply = (body) => post({ type: 'reply', id: message.id, ...body });
  try {
    if (message.type === 'exec') {
      mp.runPython(message.code);
      reply({ ok: true });
    } else if (message.type === 'call') {
      const fn = mp.globals.get(message.name);
      if (typeof fn !== 'function') throw new Error(`no Python function ${message.name} in __main__`);
      const value = fn(...message.args);
      reply({ ok: true, value: typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : null });
    } else if (message.type === 'advance') {
      if (!virtual) throw new Error('advance() needs the virtual clock');
      advance(message.ms);
      reply({ ok: true, value: now });
    } else if (message.type === 'readTree') {
      reply({ ok: true, value: readTree(message.path) });
    } else {
      throw new Error(`unknown request ${message.type}`);
    }
  } catch (error) {
    reply({ ok: false, error: pythonError(error) });
  }
});
post({ type: 'ready' });
