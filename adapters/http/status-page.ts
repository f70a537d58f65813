import type { PipelineStatus } from '#functions/pipeline-status.ts';

/** Seconds between the page's own reloads (a meta refresh: no JavaScript). */
export const STATUS_REFRESH_SECONDS = 5;

/**
 * The status page at `GET /`: one server-rendered HTML document, no script,
 * readable on a phone (one column below ~500 px), reloading itself every few
 * seconds. Thumbnails come from `/thumbnails/<id>.jpg`, each linking to its
 * job's record.
 */
export function renderStatusPage(status: PipelineStatus): string {
  const { rows, jobs, queue } = status;
  const cards = [
    card('rows', rows.total),
    card('processed', rows.processed, 'ok'),
    card('failed', rows.failed, rows.failed > 0 ? 'bad' : ''),
    card('pending', rows.pending),
    card('per second, last minute', status.throughputPerSecond, '', `${status.endedLastMinute} jobs ended`),
    card('queued', queue ? queue.queued : '–', '', queue ? 'messages waiting' : (status.queueError ?? 'no broker')),
    card('dead-lettered', queue ? queue.deadLettered : '–', queue && queue.deadLettered > 0 ? 'bad' : ''),
  ].join('');
  const byCode = queue ? Object.entries(queue.deadByCode).sort(([, a], [, b]) => b - a) : [];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${STATUS_REFRESH_SECONDS}">
<title>imgpipe status</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>imgpipe</h1><p>${escape(status.generatedAt.replace('T', ' ').slice(0, 19))} UTC · refreshes every ${STATUS_REFRESH_SECONDS} s</p></header>
<main>
<section class="cards">${cards}</section>
<section class="jobs"><h2>Jobs</h2><p>${escape(`${jobs.queued} queued · ${jobs.written} written · ${jobs.skipped} skipped · ${jobs.failed} failed`)}</p></section>
<section><h2>Dead letters by code</h2>${
    byCode.length === 0
      ? `<p class="quiet">${queue ? 'none' : 'unknown: no broker answer'}</p>`
      : `<table>${byCode.map(([code, count]) => `<tr><td><code>${escape(code)}</code></td><td class="num">${count}</td></tr>`).join('')}</table>`
  }</section>
<section><h2>Latest failures</h2>${
    status.latestFailures.length === 0
      ? '<p class="quiet">none</p>'
      : `<ul class="failures">${status.latestFailures
          .map((failure) => `<li><a href="/jobs/${encodeURIComponent(failure.id)}"><code>${escape(failure.id)}</code></a> <code class="bad">${escape(failure.code)}</code><br><span>${escape(failure.message)}</span></li>`)
          .join('')}</ul>`
  }</section>
<section><h2>Newest thumbnails</h2>${
    status.newestOutputs.length === 0
      ? '<p class="quiet">none yet</p>'
      : `<div class="grid">${status.newestOutputs
          .map((output) => `<a href="/jobs/${encodeURIComponent(output.id)}" title="${escape(output.id)}"><img src="/thumbnails/${encodeURIComponent(output.id)}.jpg" alt="thumbnail of job ${escape(output.id)}"></a>`)
          .join('')}</div>`
  }</section>
</main>
</body>
</html>
`;
}

function card(label: string, value: number | string, tone = '', note = ''): string {
  return `<div class="card ${tone}"><span class="value">${escape(String(value))}</span><span class="label">${escape(label)}</span>${note ? `<span class="note">${escape(note)}</span>` : ''}</div>`;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

const STYLE = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #667085; --bg: #f6f7f9; --panel: #fff; --line: #e4e7ec; --ok: #16794c; --bad: #b42318; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8ec; --muted: #98a2b3; --bg: #111418; --panel: #1a1e24; --line: #2b313a; --ok: #4ac28a; --bad: #f97066; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header, main { max-width: 980px; margin: 0 auto; padding: 0 16px; }
header { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: 4px 16px; padding-top: 16px; }
h1 { margin: 0; font-size: 22px; }
h2 { font-size: 15px; margin: 0 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
header p, .quiet, .note, .label { color: var(--muted); }
header p { margin: 0; font-size: 13px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; margin: 14px 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(118px, 1fr)); gap: 10px; background: none; border: 0; padding: 0; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; display: flex; flex-direction: column; }
.value { font-size: 26px; font-weight: 650; font-variant-numeric: tabular-nums; }
.label { font-size: 13px; }
.note { font-size: 12px; }
.ok .value { color: var(--ok); }
.bad .value, code.bad { color: var(--bad); }
.jobs p, section p { margin: 0; }
table { border-collapse: collapse; width: 100%; }
td { padding: 4px 0; border-bottom: 1px solid var(--line); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.failures { list-style: none; margin: 0; padding: 0; }
.failures li { padding: 6px 0; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
.failures span { color: var(--muted); font-size: 13px; }
a { color: inherit; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(96px, 1fr)); gap: 8px; }
.grid img { display: block; width: 100%; aspect-ratio: 1; object-fit: cover; border-radius: 6px; background: var(--line); }
@media (max-width: 500px) { .value { font-size: 22px; } .cards { grid-template-columns: repeat(2, 1fr); } }
`;
