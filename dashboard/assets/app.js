// sluice-dashboard's page: plain JavaScript, no build step. It polls the
// JSON API (/api/v1/, docs/dashboard.md) every POLL_MS and draws charts with
// uPlot. Views follow the URL's fragment:
//   #/                               every VideoJob, TelemetryWindow, VideoWatch
//   #/workers                        replicas and lag of each worker group
//   #/videojobs/<ns>/<name>          one VideoJob: progress, per-frame analysis
//   #/telemetrywindows/<ns>/<name>   one TelemetryWindow: windows, history, CSV
//   #/videowatches/<ns>/<name>       one VideoWatch: its watcher, uploads, jobs
// Text from the API only ever goes into the page as text (textContent),
// never as HTML.
'use strict';

(function () {
  const POLL_MS = 2000;
  const API = 'api/v1/';
  const PALETTE = ['#2456c8', '#d9480f', '#2b8a3e', '#862e9c', '#e67700', '#0b7285',
    '#c2255c', '#5c940d', '#364fc7', '#a61e4d'];
  const SERIES_MAX = 10;

  let info = { defaults: {} };
  let view = null; // the view shown: {refresh(), stop()}
  let timer = null;

  // ---------------------------------------------------------------- helpers

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }

  function fill(el, ...children) {
    el.replaceChildren(...children.flat(Infinity).filter((c) => c !== undefined && c !== null && c !== false)
      .map((c) => (c instanceof Node ? c : String(c))));
    return el;
  }

  async function api(path, opts) {
    const r = await fetch(API + path, opts);
    const text = await r.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
    if (!r.ok) {
      const msg = body && body.error ? body.error : `${r.status} ${r.statusText}`;
      const err = new Error(msg);
      err.status = r.status;
      throw err;
    }
    return body;
  }

  function setStatus(text, bad) {
    const el = document.getElementById('status');
    el.textContent = text;
    el.classList.toggle('error', !!bad);
  }

  function num(v) {
    return v === undefined || v === null ? '–' : Number(v).toLocaleString('en-US');
  }

  function ago(ts) {
    if (!ts) return '–';
    const s = Math.round((Date.now() - Date.parse(ts)) / 1000);
    if (!isFinite(s)) return ts;
    if (s < 0) return 'in ' + dur(-s);
    return dur(s) + ' ago';
  }

  function dur(s) {
    if (s < 90) return s + 's';
    if (s < 5400) return Math.round(s / 60) + 'm';
    if (s < 172800) return Math.round(s / 3600) + 'h';
    return Math.round(s / 86400) + 'd';
  }

  function phaseBadge(phase, ready) {
    const p = phase || (ready ? ready.reason : '') || 'Unknown';
    let cls = 'badge';
    if (/^(Succeeded|Running)$/.test(p)) cls += ' ok';
    else if (/^(Failed)$/.test(p)) cls += ' bad';
    else if (/^(Degraded|Pending)$/.test(p)) cls += ' warn';
    else if (/^(Splitting|Processing|Assembling)$/.test(p)) cls += ' run';
    const title = ready ? `${ready.status} ${ready.reason || ''}: ${ready.message || ''}` : null;
    return h('span', { class: cls, title }, p);
  }

  function progressBar(item) {
    const pct = item.percent === undefined ? 0 : item.percent;
    const cls = 'bar' + (item.phase === 'Succeeded' ? ' done' : item.phase === 'Failed' ? ' failed' : '');
    return h('div', { class: cls, title: item.progress || pct + '%', 'data-progress': item.percent === undefined ? null : pct },
      h('div', { style: `width:${pct}%` }), h('span', {}, item.percent === undefined ? '' : pct + '%'));
  }

  function link(kind, ns, name) {
    return h('a', { href: `#/${kind}/${encodeURIComponent(ns)}/${encodeURIComponent(name)}` },
      `${ns}/${name}`);
  }

  function outputLink(uri) {
    if (!uri) return '–';
    const safe = /^https?:\/\//.test(uri) || /^file:\/\//.test(uri);
    return safe ? h('a', { href: uri, class: 'mono', target: '_blank', rel: 'noopener' }, uri)
      : h('span', { class: 'mono' }, uri);
  }

  function replicas(item) {
    if (item.replicas === undefined && item.desiredReplicas === undefined) return '–';
    return `${num(item.replicas)} / ${num(item.desiredReplicas)}`;
  }

  function hasSink(item, spec, sink) {
    if (spec && spec.sinks && spec.sinks[sink]) return true;
    if (item && Array.isArray(item.sinks) && item.sinks.includes(sink)) return true;
    return !!(info.defaults && info.defaults[sink]);
  }

  // ---------------------------------------------------------------- tables

  // A table whose rows are kept by key, so what a user typed in a row (an
  // upload form) survives every refresh. columns: [{title, num, cell(item,
  // td, fresh)}]; a cell is redrawn each refresh unless it returns false
  // when not fresh.
  class KeyedTable {
    constructor(columns, empty) {
      this.columns = columns;
      this.empty = empty;
      this.rows = new Map();
      this.tbody = h('tbody');
      this.el = h('table', {},
        h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.num ? 'num' : null }, c.title)))),
        this.tbody);
    }

    update(items, keyOf) {
      const seen = new Set();
      const order = [];
      for (const it of items) {
        const key = keyOf(it);
        seen.add(key);
        let row = this.rows.get(key);
        const fresh = !row;
        if (fresh) {
          row = h('tr', { 'data-key': key },
            this.columns.map((c) => h('td', { class: c.num ? 'num' : null })));
          this.rows.set(key, row);
        }
        this.columns.forEach((c, i) => {
          const td = row.children[i];
          if (c.keep && !fresh) return;
          const v = c.cell(it, td, fresh);
          if (v !== undefined) fill(td, v);
        });
        order.push(row);
      }
      for (const [key, row] of this.rows) if (!seen.has(key)) { row.remove(); this.rows.delete(key); }
      if (order.length === 0) {
        fill(this.tbody, h('tr', {}, h('td', { class: 'empty', colspan: this.columns.length }, this.empty)));
        return;
      }
      if (this.tbody.firstChild && !this.tbody.firstChild.dataset.key) this.tbody.replaceChildren();
      order.forEach((row, i) => {
        if (this.tbody.children[i] !== row) this.tbody.insertBefore(row, this.tbody.children[i] || null);
      });
    }
  }

  const key = (it) => `${it.namespace}/${it.name}`;

  const VJ_COLUMNS = [
    { title: 'VideoJob', cell: (it) => link('videojobs', it.namespace, it.name) },
    { title: 'Phase', cell: (it) => phaseBadge(it.phase, it.ready) },
    { title: 'Progress', cell: (it) => progressBar(it) },
    { title: 'Segments', num: true, cell: (it) => `${num(it.segmentsDone)} / ${num(it.segmentsTotal)}` },
    { title: 'Lag', num: true, cell: (it) => num(it.lag) },
    { title: 'Replicas', num: true, cell: (it) => replicas(it) },
    { title: 'Output', cell: (it) => outputLink(it.output) },
    { title: 'Started', cell: (it) => ago(it.startTime || it.created) },
  ];

  const TW_COLUMNS = [
    { title: 'TelemetryWindow', cell: (it) => link('telemetrywindows', it.namespace, it.name) },
    { title: 'Phase', cell: (it) => phaseBadge(it.phase, it.ready) },
    { title: 'Lag', num: true, cell: (it) => num(it.lag) },
    { title: 'Replicas', num: true, cell: (it) => replicas(it) },
    { title: 'Watermark', cell: (it) => h('span', { title: it.lastWatermark || '' }, ago(it.lastWatermark)) },
    { title: 'Events', num: true, cell: (it) => num(it.eventsProcessed) },
    { title: 'Duplicates', num: true, cell: (it) => num(it.duplicates) },
    { title: 'Late', num: true, cell: (it) => num(it.late) },
    { title: 'Malformed', num: true, cell: (it) => num(it.malformed) },
    { title: 'Windows', num: true, cell: (it) => num(it.windowsEmitted) },
  ];

  const VW_COLUMNS = [
    { title: 'VideoWatch', cell: (it) => link('videowatches', it.namespace, it.name) },
    { title: 'Ready', cell: (it) => phaseBadge(it.ready ? (it.ready.status === 'True' ? 'Running' : 'Degraded') : null, it.ready) },
    { title: 'Files', num: true, cell: (it) => num(it.filesSeen) },
    { title: 'Jobs', num: true, cell: (it) => num(it.jobsCreated) },
    { title: 'Active / done / failed', num: true, cell: (it) => `${num(it.active)} / ${num(it.succeeded)} / ${num(it.failed)}` },
    { title: 'Last file', cell: (it) => watchLast(it) },
    { title: 'Upload', cell: (it, td, fresh) => uploadCell(it, td, fresh) },
  ];

  function watchLast(it) {
    return [
      it.lastFile ? h('span', { class: 'mono' }, it.lastFile) : '–',
      it.lastJob ? h('div', { class: 'sub' }, '→ ', link('videojobs', it.namespace, it.lastJob)) : null,
      it.folderError ? h('div', { class: 'error-text' }, it.folderError) : null,
    ];
  }

  // ---------------------------------------------------------------- forms

  // The upload cell: the form made once (what the user typed stays), its
  // button enabled once the watcher reported its endpoint.
  function uploadCell(it, td, fresh) {
    const form = td.querySelector('form');
    if (fresh || !form !== !it.upload) return uploadForm(it);
    if (form) form.setEndpoint(it.uploadURL);
    return undefined;
  }

  // The upload form of a VideoWatch: the file goes to the dashboard with the
  // user's token, which forwards both to the watcher (status.watcher.uploadURL).
  function uploadForm(it) {
    if (!it.upload) return h('span', { class: 'sub' }, 'no spec.upload');
    const ns = it.namespace, name = it.name;
    const result = h('span', { class: 'result' });
    const file = h('input', { type: 'file', name: 'file', required: true });
    const token = h('input', { type: 'password', name: 'token', placeholder: 'upload token', autocomplete: 'off', required: true });
    const button = h('button', { type: 'submit', disabled: !it.uploadURL }, 'Upload');
    let busy = false;
    const form = h('form', {
      class: 'inline upload-form', 'data-watch': `${ns}/${name}`,
      onsubmit: (ev) => {
        ev.preventDefault();
        const f = file.files[0];
        if (!f) return;
        button.disabled = busy = true;
        result.className = 'result';
        result.textContent = 'uploading…';
        const xhr = new XMLHttpRequest();
        xhr.open('PUT', `${API}videowatches/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/upload/${encodeURIComponent(f.name)}`);
        xhr.setRequestHeader('Authorization', 'Bearer ' + token.value);
        xhr.setRequestHeader('Content-Type', f.type || 'application/octet-stream');
        xhr.upload.onprogress = (e) => {
          if (e.lengthComputable) result.textContent = `uploading ${Math.floor((100 * e.loaded) / e.total)}%`;
        };
        xhr.onload = () => {
          button.disabled = busy = false;
          let body = null;
          try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
          if (xhr.status >= 200 && xhr.status < 300 && body && body.videoJob) {
            result.className = 'result ok';
            fill(result, `${xhr.status}: `, link('videojobs', body.namespace || ns, body.videoJob),
              body.pending ? ` (${body.pending})` : '');
          } else {
            result.className = 'result bad';
            result.textContent = `${xhr.status}: ${body && (body.error || body.message) ? (body.error || body.message) : xhr.responseText.trim()}`;
          }
        };
        xhr.onerror = () => {
          button.disabled = busy = false;
          result.className = 'result bad';
          result.textContent = 'the upload failed (connection lost)';
        };
        xhr.send(f);
      },
    }, file, token, button, result);
    // Until the watcher reports where it takes uploads, there is nowhere to send.
    form.setEndpoint = (url) => {
      if (!busy) button.disabled = !url;
      button.title = url ? '' : 'waiting for the watcher to report its upload endpoint';
    };
    form.setEndpoint(it.uploadURL);
    return form;
  }

  // ---------------------------------------------------------------- charts

  // A uPlot chart in el, made again when its series change.
  class Chart {
    constructor(el, opts) {
      this.el = el;
      this.opts = opts; // {title, xTime, series: [names], yLabel, cuts}
      this.plot = null;
      this.names = null;
      this.cuts = [];
    }

    width() {
      return Math.max(300, (this.el.clientWidth || this.el.parentNode.clientWidth || 600) - 10);
    }

    update(data, names, cuts) {
      this.cuts = cuts || [];
      const same = this.plot && this.names && names.length === this.names.length &&
        names.every((n, i) => n === this.names[i]);
      if (!same) {
        if (this.plot) this.plot.destroy();
        this.names = names.slice();
        const self = this;
        const series = [{ label: this.opts.xTime ? 'time' : 's' }].concat(names.map((n, i) => ({
          label: n, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true,
          points: { show: this.opts.points || false, size: 4 },
        })));
        this.plot = new uPlot({
          title: this.opts.title,
          width: this.width(),
          height: this.opts.height || 200,
          scales: { x: { time: !!this.opts.xTime } },
          axes: [{}, { label: this.opts.yLabel || '' }],
          series,
          legend: { live: true },
          hooks: {
            draw: [(u) => {
              if (!self.cuts.length) return;
              const ctx = u.ctx;
              ctx.save();
              ctx.strokeStyle = 'rgba(198, 47, 47, 0.55)';
              ctx.lineWidth = 1;
              for (const t of self.cuts) {
                const x = Math.round(u.valToPos(t, 'x', true));
                if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
                ctx.beginPath();
                ctx.moveTo(x, u.bbox.top);
                ctx.lineTo(x, u.bbox.top + u.bbox.height);
                ctx.stroke();
              }
              ctx.restore();
            }],
          },
        }, data, this.el);
      } else {
        this.plot.setData(data);
      }
    }

    resize() {
      if (this.plot) this.plot.setSize({ width: this.width(), height: this.opts.height || 200 });
    }

    destroy() {
      if (this.plot) this.plot.destroy();
      this.plot = null;
    }
  }

  // Series of (t, v) pairs with their own times, aligned on one x axis (the
  // union of the times; null where a series has no point), as uPlot wants.
  function align(list) {
    const ts = new Set();
    for (const s of list) for (const t of s.t) ts.add(t);
    const xs = Array.from(ts).sort((a, b) => a - b);
    const index = new Map(xs.map((t, i) => [t, i]));
    const data = [xs];
    for (const s of list) {
      const col = new Array(xs.length).fill(null);
      s.t.forEach((t, i) => { col[index.get(t)] = s.v[i]; });
      data.push(col);
    }
    return data;
  }

  function chartBox(id, title, note) {
    return h('div', { class: 'chart', id },
      h('div', { class: 'title' }, title), h('div', { class: 'note' }, note || ''), h('div', { class: 'plot' }));
  }

  function samplesCharts(container, prefix) {
    const rep = chartBox(prefix + '-replicas', 'Replicas');
    const lag = chartBox(prefix + '-lag', 'Lag');
    container.append(rep, lag);
    const cr = new Chart(rep.querySelector('.plot'), { xTime: true, height: 160 });
    const cl = new Chart(lag.querySelector('.plot'), { xTime: true, height: 160 });
    return {
      update(s) {
        if (!s || !s.t) return;
        cr.update([s.t, s.replicas, s.desiredReplicas], ['ready', 'desired']);
        cl.update([s.t, s.lag], ['lag']);
      },
      charts: [cr, cl],
    };
  }

  // ---------------------------------------------------------------- views

  function section(title, id, body) {
    const count = h('span', { class: 'count' });
    const el = h('section', { class: 'card', id }, h('h2', {}, title, ' ', count), body);
    return { el, count };
  }

  function overview(main) {
    const vj = new KeyedTable(VJ_COLUMNS, 'no VideoJobs');
    const tw = new KeyedTable(TW_COLUMNS, 'no TelemetryWindows');
    const vw = new KeyedTable(VW_COLUMNS, 'no VideoWatches');
    const s1 = section('VideoJobs', 'videojobs', vj.el);
    const s2 = section('TelemetryWindows', 'telemetrywindows', tw.el);
    const s3 = section('VideoWatches', 'videowatches', vw.el);
    vj.el.id = 'vj-table';
    tw.el.id = 'tw-table';
    vw.el.id = 'vw-table';
    fill(main, s1.el, s2.el, s3.el);
    const show = (s, t, list) => {
      t.update(list.items, key);
      s.count.textContent = `(${list.count}${list.synced ? '' : ', listing…'})`;
    };
    return {
      async refresh() {
        const [a, b, c] = await Promise.all([api('videojobs'), api('telemetrywindows'), api('videowatches')]);
        show(s1, vj, a);
        show(s2, tw, b);
        show(s3, vw, c);
      },
      stop() {},
    };
  }

  function workers(main) {
    const boxR = chartBox('workers-replicas', 'Ready replicas per worker group', 'the groups with the most lag now');
    const boxL = chartBox('workers-lag', 'Lag per worker group', 'messages (TelemetryWindows) or segment tasks (VideoJobs) not yet committed');
    const card = h('section', { class: 'card', id: 'workers' }, h('h2', {}, 'Workers'), h('div', { class: 'charts' }, boxR, boxL));
    fill(main, card);
    const cr = new Chart(boxR.querySelector('.plot'), { xTime: true, height: 260 });
    const cl = new Chart(boxL.querySelector('.plot'), { xTime: true, height: 260 });
    return {
      async refresh() {
        const w = await api(`workers?limit=${SERIES_MAX}`);
        const names = w.items.map((it) => `${it.kind === 'VideoJob' ? 'vj' : 'tw'} ${it.namespace}/${it.name}`);
        cr.update(align(w.items.map((it) => ({ t: it.samples.t, v: it.samples.replicas }))), names);
        cl.update(align(w.items.map((it) => ({ t: it.samples.t, v: it.samples.lag }))), names);
      },
      stop() { cr.destroy(); cl.destroy(); },
      charts: [cr, cl],
    };
  }

  function kv(pairs) {
    return h('dl', { class: 'kv' }, pairs.filter((p) => p).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  }

  function conditionsTable(conds) {
    if (!conds || !conds.length) return h('p', { class: 'empty' }, 'no conditions yet');
    return h('table', { class: 'conditions' },
      h('thead', {}, h('tr', {}, ['Type', 'Status', 'Reason', 'Message', 'Since'].map((t) => h('th', {}, t)))),
      h('tbody', {}, conds.map((c) => h('tr', {}, h('td', {}, c.type), h('td', {}, c.status),
        h('td', {}, c.reason || ''), h('td', {}, c.message || ''), h('td', {}, ago(c.lastTransitionTime))))));
  }

  function detailHeader(kind, d) {
    return h('h2', {}, `${kind} ${d.namespace}/${d.name} `, phaseBadge(d.phase, d.ready));
  }

  function videojob(main, ns, name) {
    const top = h('section', { class: 'card', id: 'detail' });
    const frames = h('section', { class: 'card', id: 'frames' }, h('h2', {}, 'Per-frame analysis'));
    const note = h('p', { class: 'note' });
    const grid = h('div', { class: 'charts' });
    frames.append(note, grid);
    const wk = h('section', { class: 'card' }, h('h2', {}, 'Workers'));
    const wgrid = h('div', { class: 'charts' });
    wk.append(wgrid);
    fill(main, top, frames, wk);
    const boxes = [['frames-luma', 'Mean luma', 'meanLuma', '0..255'], ['frames-motion', 'Motion', 'motion', 'mean |ΔY|'],
      ['frames-scene', 'Scene score', 'sceneScore', 'cuts marked in red']];
    const charts = boxes.map(([id, title, , y]) => {
      const b = chartBox(id, title);
      grid.append(b);
      return new Chart(b.querySelector('.plot'), { height: 180, yLabel: y });
    });
    const samples = samplesCharts(wgrid, 'vj');
    let framesDone = false;
    let last = null;
    return {
      async refresh() {
        const d = await api(`videojobs/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`);
        fill(top, detailHeader('VideoJob', d), progressBar(d), kv([
          ['Source', h('span', { class: 'mono' }, d.source || '–')],
          ['Output', outputLink(d.output)],
          ['Segments', `${num(d.segmentsDone)} / ${num(d.segmentsTotal)}`],
          ['Frames', `${num(d.framesDone)} / ${num(d.framesTotal)}`],
          ['Lag', `${num(d.lag)}${d.lagSeconds !== undefined ? ` (~${dur(d.lagSeconds)})` : ''}`],
          ['Replicas', replicas(d)],
          ['Started', d.startTime ? `${d.startTime} (${ago(d.startTime)})` : '–'],
          ['Completed', d.completionTime || '–'],
          d.videoWatch ? ['VideoWatch', link('videowatches', d.namespace, d.videoWatch)] : null,
          d.failed ? ['Failure', h('span', { class: 'error-text' }, d.failed)] : null,
        ]), h('h3', {}, 'Conditions'), conditionsTable(d.conditions));
        samples.update(d.samples);
        const finished = d.phase === 'Succeeded' || d.phase === 'Failed';
        if (!hasSink(null, d.spec, 'postgres')) {
          note.textContent = 'This VideoJob has no spec.sinks.postgres: no frame rows to show.';
          return;
        }
        if (framesDone && finished) return;
        const f = await api(`videojobs/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/frames`);
        last = f;
        note.textContent = `${num(f.frames)} frames` + (f.bucketMs > 1 ? `, averaged over ${f.bucketMs} ms` : '') +
          `; ${f.cuts.t.length} scene cuts (score ≥ ${f.cutThreshold})`;
        boxes.forEach(([, , col], i) => charts[i].update([f.t, f[col]], [boxes[i][1]], f.cuts.t));
        framesDone = finished;
      },
      stop() { charts.forEach((c) => c.destroy()); samples.charts.forEach((c) => c.destroy()); },
      charts: charts.concat(samples.charts),
      last: () => last,
    };
  }

  function telemetrywindow(main, ns, name) {
    const base = `telemetrywindows/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`;
    const top = h('section', { class: 'card', id: 'detail' });
    const wk = h('section', { class: 'card' }, h('h2', {}, 'Workers'));
    const wgrid = h('div', { class: 'charts' });
    wk.append(wgrid);
    const samples = samplesCharts(wgrid, 'tw');

    // Field and aggregate pickers shared by the latest and history charts.
    const field = h('select', { name: 'field' });
    const agg = h('select', { name: 'agg' }, ['mean', 'max', 'min', 'p95', 'count'].map((a) => h('option', { value: a }, a)));
    const pick = h('form', { class: 'inline', onchange: () => { historyAt = 0; } }, 'field ', field, ' aggregate ', agg);

    const latest = h('section', { class: 'card', id: 'latest' }, h('h2', {}, 'Last windows per key (Redis)'));
    const latestNote = h('p', { class: 'note' });
    const latestBox = chartBox('latest-chart', '');
    latest.append(pick, latestNote, latestBox);
    const history = h('section', { class: 'card', id: 'history' }, h('h2', {}, 'History (PostgreSQL)'));
    const historyNote = h('p', { class: 'note' });
    const historyBox = chartBox('history-chart', '');
    history.append(historyNote, historyBox);

    // CSV download of the last N windows, by the exporter's query.
    const lastN = h('input', { type: 'number', name: 'last', min: 1, max: 100000, value: 100 });
    const csvKey = h('input', { type: 'text', name: 'key', placeholder: 'key (optional)' });
    const dl = h('a', { class: 'button', id: 'csv-link', download: true }, 'Download CSV');
    const setHref = () => {
      const q = new URLSearchParams({ last: lastN.value || '100' });
      if (csvKey.value) q.set('key', csvKey.value);
      dl.href = `${API}${base}/export.csv?${q}`;
    };
    setHref();
    const csvForm = h('form', { class: 'inline', id: 'csv-form', oninput: setHref, onsubmit: (e) => e.preventDefault() },
      'last ', lastN, ' windows', csvKey, dl);

    // Load form: a CSV or Parquet file published to the input topic by sluice-worker load.
    const loadFile = h('input', { type: 'file', name: 'file', accept: '.csv,text/csv,.parquet', required: true });
    const loadButton = h('button', { type: 'submit' }, 'Publish');
    const loadResult = h('span', { class: 'result', id: 'load-result' });
    let loadId = null;
    const loadForm = h('form', {
      class: 'inline', id: 'load-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        const f = loadFile.files[0];
        if (!f) return;
        loadButton.disabled = true;
        loadResult.className = 'result';
        loadResult.textContent = 'sending…';
        try {
          const type = /\.parquet$/i.test(f.name) ? 'application/vnd.apache.parquet' : 'text/csv';
          const r = await api(`${base}/load`, { method: 'POST', headers: { 'Content-Type': type }, body: f });
          loadId = r.id;
          showLoad(r);
        } catch (e) {
          loadResult.className = 'result bad';
          loadResult.textContent = e.message;
          loadButton.disabled = false;
        }
      },
    }, loadFile, loadButton, loadResult);
    const showLoad = (r) => {
      const done = r.state !== 'running';
      loadResult.className = 'result' + (r.state === 'succeeded' ? ' ok' : r.state === 'failed' ? ' bad' : '');
      loadResult.textContent = `${r.state}: ${num(r.rows)} rows read, ${num(r.delivered)} published` +
        (r.failed ? `, ${num(r.failed)} failed` : '') + (r.skipped ? `, ${num(r.skipped)} skipped` : '') +
        (r.percent !== null && r.percent !== undefined && !done ? ` (${r.percent}%)` : '') + (r.error ? ` — ${r.error}` : '');
      if (done) { loadId = null; loadButton.disabled = false; }
    };
    const tools = h('section', { class: 'card', id: 'tools' }, h('h2', {}, 'Data'),
      h('h3', {}, 'Download the last windows (CSV)'), csvForm,
      h('h3', {}, 'Publish a CSV or Parquet file to the input topic'), loadForm);

    fill(main, top, wk, latest, history, tools);
    const latestChart = new Chart(latestBox.querySelector('.plot'), { xTime: true, height: 220, points: true });
    const historyChart = new Chart(historyBox.querySelector('.plot'), { xTime: true, height: 220 });
    let historyAt = 0;

    const value = (w, f, a) => {
      if (f === '' || a === 'count') return f === '' ? w.count : (w.fields && w.fields[f] ? w.fields[f].count : null);
      const v = w.fields && w.fields[f] ? w.fields[f][a] : undefined;
      return v === undefined ? null : v;
    };

    return {
      async refresh() {
        const d = await api(base);
        fill(top, detailHeader('TelemetryWindow', d), kv([
          ['Topic', h('span', { class: 'mono' }, d.topic || '–')],
          ['Format', d.format],
          ['Window', d.windowSize || '–'],
          ['Lag', `${num(d.lag)}${d.lagSeconds !== undefined ? ` (~${dur(d.lagSeconds)})` : ''}`],
          ['Replicas', replicas(d)],
          ['Watermark', d.lastWatermark ? `${d.lastWatermark} (${ago(d.lastWatermark)})` : '–'],
          ['Events', num(d.eventsProcessed)],
          ['Duplicates', num(d.duplicates)],
          ['Late', num(d.late)],
          ['Malformed', num(d.malformed)],
          ['Windows emitted', num(d.windowsEmitted)],
          ['Sinks', (d.sinks || []).join(', ') || '–'],
        ]), h('h3', {}, 'Conditions'), conditionsTable(d.conditions));
        samples.update(d.samples);
        const values = (d.spec && d.spec.fields && d.spec.fields.values) || [];
        if (field.options.length !== values.length + 1) {
          fill(field, h('option', { value: '' }, '(events)'), values.map((v) => h('option', { value: v }, v)));
          if (values.length) field.value = values[0];
        }
        const f = field.value, a = agg.value;
        const label = f === '' ? 'events per window' : `${f} ${a}`;
        if (loadId) showLoad(await api(`${base}/load/${loadId}`));
        if (hasSink(d, d.spec, 'redis')) {
          const l = await api(`${base}/latest?keys=${SERIES_MAX}`);
          latestNote.textContent = `${l.keys.length} keys${l.truncated ? ' (more not shown)' : ''}; ${label}; prefix ${l.prefix}`;
          latestChart.update(align(l.keys.map((k) => ({
            t: k.windows.map((w) => w.start / 1e9),
            v: k.windows.map((w) => value(w, f, a)),
          }))), l.keys.map((k) => k.keyFields.join(', ') || '(no key)'));
        } else {
          latestNote.textContent = 'This TelemetryWindow has no spec.sinks.redis.';
        }
        if (!hasSink(d, d.spec, 'postgres')) {
          historyNote.textContent = 'This TelemetryWindow has no spec.sinks.postgres: no history, no CSV.';
          return;
        }
        // History changes once per window: every few polls is enough.
        if (Date.now() - historyAt < 10000) return;
        historyAt = Date.now();
        const q = new URLSearchParams({ field: f });
        const hs = await api(`${base}/history?${q}`);
        const series = hs.series.slice(0, SERIES_MAX);
        const col = a === 'count' ? 'count' : a;
        historyNote.textContent = `${hs.rows} rows, ${hs.series.length} keys${hs.series.length > SERIES_MAX ? ` (${SERIES_MAX} shown)` : ''}` +
          `${hs.truncated ? ', the newest only' : ''}; ${label}`;
        historyChart.update(align(series.map((s) => ({ t: s.t, v: s[col] }))),
          series.map((s) => s.keyFields.join(', ') || '(no key)'));
      },
      stop() { latestChart.destroy(); historyChart.destroy(); samples.charts.forEach((c) => c.destroy()); },
      charts: [latestChart, historyChart].concat(samples.charts),
    };
  }

  function videowatch(main, ns, name) {
    const top = h('section', { class: 'card', id: 'detail' });
    const up = h('section', { class: 'card', id: 'upload' }, h('h2', {}, 'Upload a file'));
    const jobs = new KeyedTable(VJ_COLUMNS, 'no VideoJobs from this watch');
    jobs.el.id = 'vw-jobs';
    const js = h('section', { class: 'card' }, h('h2', {}, 'Its VideoJobs'), jobs.el);
    fill(main, top, up, js);
    let form = null;
    return {
      async refresh() {
        const [d, list] = await Promise.all([
          api(`videowatches/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`),
          api(`videojobs?namespace=${encodeURIComponent(ns)}`),
        ]);
        fill(top, detailHeader('VideoWatch', d), kv([
          ['Folder', h('span', { class: 'mono' }, `${(d.spec && d.spec.volume && d.spec.volume.mountPath) || ''}/${d.directory || ''}`)],
          ['Files', h('span', { class: 'mono' }, d.glob || '*')],
          ['Files seen', num(d.filesSeen)],
          ['Jobs created', num(d.jobsCreated)],
          ['Files rejected', num(d.filesRejected)],
          ['Active / succeeded / failed', `${num(d.active)} / ${num(d.succeeded)} / ${num(d.failed)}`],
          ['Last file', d.lastFile || '–'],
          ['Last job', d.lastJob ? link('videojobs', d.namespace, d.lastJob) : '–'],
          ['Last scan', d.lastScanTime ? ago(d.lastScanTime) : '–'],
          ['Upload endpoint', d.uploadURL || (d.upload ? 'not reported yet' : 'none (no spec.upload)')],
          d.folderError ? ['Folder error', h('span', { class: 'error-text' }, d.folderError)] : null,
        ]), h('h3', {}, 'Conditions'), conditionsTable(d.conditions));
        if (!form) {
          form = uploadForm(d);
          up.append(form);
        } else if (form.setEndpoint) {
          form.setEndpoint(d.uploadURL);
        }
        jobs.update(list.items.filter((j) => j.videoWatch === name), key);
      },
      stop() {},
    };
  }

  // ---------------------------------------------------------------- router

  function route() {
    if (view) view.stop();
    if (timer) clearTimeout(timer);
    const main = document.getElementById('main');
    const parts = (location.hash || '#/').slice(2).split('/').map(decodeURIComponent);
    let name = 'overview';
    if (parts[0] === 'workers') { name = 'workers'; view = workers(main); }
    else if (parts.length === 3 && parts[0] === 'videojobs') view = videojob(main, parts[1], parts[2]);
    else if (parts.length === 3 && parts[0] === 'telemetrywindows') view = telemetrywindow(main, parts[1], parts[2]);
    else if (parts.length === 3 && parts[0] === 'videowatches') view = videowatch(main, parts[1], parts[2]);
    else view = overview(main);
    for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('active', a.dataset.view === name);
    poll(view);
  }

  async function poll(v) {
    try {
      await v.refresh();
      if (v !== view) return;
      setStatus(`updated ${new Date().toLocaleTimeString()}`, false);
    } catch (e) {
      if (v !== view) return;
      setStatus(e.status === 404 ? e.message : `cannot refresh: ${e.message}`, true);
    }
    if (v === view) timer = setTimeout(() => poll(v), POLL_MS);
  }

  window.addEventListener('hashchange', route);
  window.addEventListener('resize', () => { if (view && view.charts) view.charts.forEach((c) => c.resize()); });
  api('info').then((i) => {
    info = i;
    document.getElementById('version').textContent = `sluice-dashboard ${i.version} (${i.gitRev})` +
      (i.namespace ? ` · namespace ${i.namespace}` : '');
  }).catch(() => {}).finally(route);
})();
