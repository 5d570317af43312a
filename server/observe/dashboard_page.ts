/**
 * The dashboard page served at `GET /` (a placeholder: the dashboard's own page replaces this
 * content; server/observe/http.ts only imports {@linkcode DASHBOARD_HTML}).
 *
 * @module
 */

/** The whole page: HTML with inline style and script, nothing fetched from elsewhere. */
export const DASHBOARD_HTML: string =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Switchboard</title></head>' +
  '<body><h1>Switchboard</h1><p>See <a href="/api/status">/api/status</a> and ' +
  '<a href="/metrics">/metrics</a>.</p></body></html>\n';
