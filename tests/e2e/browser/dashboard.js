#!/usr/bin/env node
// dashboard.js -- drives headless Chromium (Debian's, /usr/bin/chromium)
// through sluice-dashboard's page with playwright-core, for
// tests/e2e/test_dashboard.py. One scenario a run; each loads the page once
// and never reloads it (what it waits for must arrive by the page's own
// polling), fails on any console error, uncaught exception, failed request or
// HTTP error of the page, and leaves a full-page screenshot in
// --out/<scenario>.png.
//
//   node dashboard.js --url http://127.0.0.1:PORT/ --out DIR --scenario NAME
//        [--id NS/NAME] [--file PATH] [--token TOKEN] [--min N] [--timeout SECONDS]
//
// Scenarios, and the parts of the page each relies on (docs/dashboard.md,
// "Install", lists them for the page's authors):
//   load       #/: main#main shows, and #status says "updated" (a first
//              poll of the API went through)
//   videojob   #/: the row #vj-table tr[data-key="NS/NAME"] appears; its
//              progress bar .bar (data-progress="0..100", else the percent in
//              its text) advances to 100 without going back; the values seen
//              are printed
//   telemetry  #/telemetrywindows/NS/NAME: the uPlot chart in #latest-chart
//              (the last windows per key, from the Redis sink) holds at least
//              --min points, then more; the counts are printed. Points are
//              counted in the data the page hands uPlot (new uPlot, setData),
//              or read from data-points on the chart's element when the page
//              sets it
//   upload     #/: the form form[data-watch="NS/NAME"] gets --token in
//              input[name="token"] and --file in input[type="file"], and is
//              submitted; its .result.ok then links the new VideoJob
//              (a[href^="#/videojobs/"], text NS/JOB), whose row appears in
//              #vj-table; .result.bad fails at once. The job's id is printed
//
// Every scenario also fails when the page shows "[object ...]" or "NaN" (a
// value rendered as text by mistake). The result is one JSON line on stdout
// ({"ok": true, ...}); a failure exits 1 with the reason on stderr.
// playwright-core comes from NODE_PATH (scripts/deps.sh browser installs it
// into $SLUICE_CACHE/npm).
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

function parseArgs(argv) {
	const out = { timeout: 120, min: 1 };
	for (let i = 0; i < argv.length; i += 2) {
		const key = argv[i].replace(/^--/, '');
		if (i + 1 >= argv.length)
			throw new Error(`--${key} needs a value`);
		out[key] = argv[i + 1];
	}
	for (const k of ['url', 'out', 'scenario'])
		if (!out[k])
			throw new Error(`--${k} is required`);
	out.timeout = Number(out.timeout);
	out.min = Number(out.min);
	return out;
}

// In the page: the percent 0..100 of the progress bar sel names, from its
// data-progress, else the first "N%" in its text; null while it shows none.
function readProgress(sel) {
	const el = document.querySelector(sel);
	if (!el)
		return null;
	const attr = el.getAttribute('data-progress');
	if (attr !== null && attr !== '')
		return Number(attr);
	const m = /(\d+(?:\.\d+)?)\s*%/.exec(el.textContent);
	return m ? Number(m[1]) : null;
}

// In the page: the points of the chart in the element sel names: its
// data-points, else what the uPlot instrumentation counted.
function readPoints(sel) {
	const box = document.querySelector(sel);
	if (!box)
		return null;
	const el = box.hasAttribute('data-points') ? box : box.querySelector('[data-points]');
	return el ? Number(el.getAttribute('data-points')) : null;
}

// Before any of the page's scripts: wraps the global uPlot (the page's chart
// library) so that every chart marks its target element with data-points,
// the number of non-null values it was last given.
function instrumentUplot() {
	const count = (data) => {
		let n = 0;
		for (let i = 1; data && i < data.length; i++)
			for (const v of data[i] || [])
				if (v !== null && v !== undefined)
					n++;
		return n;
	};
	let wrapped;
	Object.defineProperty(window, 'uPlot', {
		configurable: true,
		get() { return wrapped; },
		set(Real) {
			if (typeof Real !== 'function') {
				wrapped = Real;
				return;
			}
			function Counted(opts, data, target) {
				const u = new Real(opts, data, target);
				const mark = (d) => {
					if (target && target.setAttribute)
						target.setAttribute('data-points', String(count(d)));
				};
				mark(data);
				const setData = u.setData.bind(u);
				u.setData = (d, ...rest) => {
					const r = setData(d, ...rest);
					mark(d);
					return r;
				};
				return u;
			}
			Object.setPrototypeOf(Counted, Real);
			Counted.prototype = Real.prototype;
			wrapped = Counted;
		},
	});
}

// In the page: the upload's outcome: {job: "NS/NAME"} once .result.ok links
// a VideoJob, {error} once .result.bad shows, {} before.
function uploadOutcome(sel) {
	const form = document.querySelector(sel);
	const bad = form && form.querySelector('.result.bad');
	if (bad)
		return { error: bad.textContent.trim() };
	const link = form && form.querySelector('.result.ok a[href^="#/videojobs/"]');
	return link ? { job: link.textContent.trim() } : {};
}

async function waitValue(page, what, fn, arg, accept, timeoutMs, onValue) {
	const deadline = Date.now() + timeoutMs;
	let last;
	while (Date.now() < deadline) {
		last = await page.evaluate(fn, arg);
		if (onValue)
			onValue(last);
		if (accept(last))
			return last;
		// Until the page shows something else (it polls its API every 2 s):
		// a wait on the page's state, not on a timer.
		const left = deadline - Date.now();
		if (left <= 0)
			break;
		const changed = `JSON.stringify((${fn})(${JSON.stringify(arg)})) !== ` +
			JSON.stringify(JSON.stringify(last) ?? null);
		await page.waitForFunction(changed, null, { timeout: left, polling: 100 }).catch((e) => {
			if (e.name !== 'TimeoutError')
				throw e;
		});
	}
	throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}; last: ${JSON.stringify(last)}`);
}

async function main() {
	const a = parseArgs(process.argv.slice(2));
	const timeoutMs = a.timeout * 1000;
	fs.mkdirSync(a.out, { recursive: true });
	const args = [
		'--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
		// This machine's network is closed: no background connections.
		'--disable-background-networking', '--disable-component-update', '--disable-sync',
	];
	// Chromium's sandbox needs user namespaces a root process may not have.
	if (process.getuid && process.getuid() === 0)
		args.push('--no-sandbox');
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		args,
	});
	const problems = [];
	const pending = [];
	const result = { ok: true, scenario: a.scenario };
	let page;
	try {
		const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
		await context.addInitScript(instrumentUplot);
		page = await context.newPage();
		page.setDefaultTimeout(timeoutMs);
		page.on('console', (m) => {
			if (m.type() === 'error')
				problems.push(`console error: ${m.text()} (${JSON.stringify(m.location())})`);
		});
		page.on('pageerror', (e) => problems.push(`uncaught exception: ${e.message}`));
		page.on('requestfailed', (r) => {
			const why = r.failure() ? r.failure().errorText : '';
			// A request the page itself cancels (a replaced poll) is no fault.
			if (why !== 'net::ERR_ABORTED')
				problems.push(`request failed: ${r.method()} ${r.url()}: ${why}`);
		});
		page.on('response', (r) => {
			if (r.status() < 400)
				return;
			// With the body, which says why (the API answers {"error": ...}).
			pending.push(r.text().catch(() => '').then((body) => problems.push(
				`HTTP ${r.status()}: ${r.request().method()} ${r.url()}: ${body.slice(0, 500)}`)));
		});
		const view = a.scenario === 'telemetry' ? `#/telemetrywindows/${a.id}` : '#/';
		const response = await page.goto(a.url + view, { waitUntil: 'load' });
		if (!response || response.status() !== 200)
			throw new Error(`GET ${a.url}: ${response ? response.status() : 'no response'}`);
		result.title = await page.title();

		switch (a.scenario) {
		case 'load':
			await page.waitForSelector('main#main', { state: 'visible' });
			await waitValue(page, '#status to say "updated"',
				() => document.getElementById('status').textContent, undefined,
				(t) => /^updated/.test(t || ''), timeoutMs);
			break;
		case 'videojob': {
			const row = `#vj-table tr[data-key="${a.id}"]`;
			const sel = `${row} .bar`;
			await page.waitForSelector(sel);
			const seen = [];
			await waitValue(page, `${sel} at 100`, readProgress, sel,
				(v) => v !== null && v >= 100, timeoutMs,
				(v) => {
					if (v !== null && (seen.length === 0 || seen[seen.length - 1] !== v))
						seen.push(v);
				});
			for (let i = 1; i < seen.length; i++)
				if (seen[i] < seen[i - 1])
					throw new Error(`progress went back: ${JSON.stringify(seen)}`);
			result.progress = seen;
			await page.locator(row).scrollIntoViewIfNeeded();
			break;
		}
		case 'telemetry': {
			const sel = '#latest-chart';
			await page.waitForSelector(sel);
			const first = await waitValue(page, `${sel} with ${a.min} points`, readPoints, sel,
				(v) => v !== null && v >= a.min, timeoutMs);
			const then = await waitValue(page, `${sel} with more than ${first} points`, readPoints,
				sel, (v) => v !== null && v > first, timeoutMs);
			result.points = [first, then];
			await page.locator(sel).scrollIntoViewIfNeeded();
			break;
		}
		case 'upload': {
			if (!a.file)
				throw new Error('upload needs --file');
			const sel = `form[data-watch="${a.id}"]`;
			const form = page.locator(sel);
			await form.waitFor();
			if (a.token)
				await form.locator('input[name="token"]').fill(a.token);
			await form.locator('input[type="file"]').setInputFiles(a.file);
			await form.locator('[type="submit"]').click();
			const out = await waitValue(page, `${sel} to link the upload's VideoJob`,
				uploadOutcome, sel, (v) => v.error || v.job, timeoutMs);
			if (out.error)
				throw new Error(`the upload failed: ${out.error}`);
			result.job = out.job;
			const row = `#vj-table tr[data-key="${out.job}"]`;
			await page.waitForSelector(row);
			await page.locator(row).scrollIntoViewIfNeeded();
			break;
		}
		default:
			throw new Error(`unknown scenario ${a.scenario}`);
		}
		// A value the page turned into text by mistake.
		const garbled = await page.evaluate(() => {
			const m = /\[object \w+\]|\bNaN\b/.exec(document.body.innerText);
			return m ? m[0] : null;
		});
		if (garbled)
			problems.push(`the page shows "${garbled}" (a value rendered as text by mistake)`);
	} finally {
		if (page) {
			try {
				await page.screenshot({ path: path.join(a.out, `${a.scenario}.png`), fullPage: true });
			} catch (e) {
				problems.push(`screenshot: ${e.message}`);
			}
		}
		await Promise.all(pending);
		// Closing the page cancels its open requests: no faults after this.
		page && page.removeAllListeners('requestfailed');
		await browser.close();
	}
	if (problems.length)
		throw new Error(`the page had problems:\n  ${problems.join('\n  ')}`);
	process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e) => {
	process.stderr.write(`dashboard.js: ${e.stack || e.message}\n`);
	process.exit(1);
});
