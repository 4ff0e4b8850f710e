'use strict';
// The SDK's log: one line per event on stderr, in the key=value shape of
// the gateway's own log (Go's slog text handler), so that both read alike:
//
//   time=2026-12-01T20:00:00.000Z level=ERROR msg="handler threw" request_id=5f0c... err="Error: boom"
//
// A logger is a function (level, msg, fields); pass your own as the `log`
// option, or false for none.

function quote(v) {
  const s = v instanceof Error ? (v.stack || String(v)) : String(v);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}

function format(level, msg, fields) {
  let line = `time=${new Date().toISOString()} level=${level.toUpperCase()} msg=${quote(msg)}`;
  if (fields) {
    for (const k of Object.keys(fields)) {
      if (fields[k] !== undefined) line += ` ${k}=${quote(fields[k])}`;
    }
  }
  return line;
}

function stderrLogger(level, msg, fields) {
  process.stderr.write(format(level, msg, fields) + '\n');
}

// loggerOf turns the `log` option into a logger.
function loggerOf(opt) {
  if (opt === false) return () => {};
  if (typeof opt === 'function') return opt;
  return stderrLogger;
}

module.exports = { format, stderrLogger, loggerOf };
