package main

import (
	"log/slog"
	"reflect"

	"github.com/nanogate/nanogate/config"
	"github.com/nanogate/nanogate/frontend"
)

// reloadConfig reads the configuration again (SIGHUP) and, if it passes
// the checks `nanogate check` makes, swaps in its routes: new and changed
// routes get their pools, kept routes keep theirs, and requests in flight
// finish on the routes they started on. A configuration that does not pass
// is refused with a log line, and the running one keeps serving. Settings
// that only a restart can apply (the listen address, [server], [sessions],
// [log]) are named in the log and otherwise kept. It returns the
// configuration in force afterwards.
func reloadConfig(cur *config.Config, read func() (*config.Config, error), ups *upstreams, srv *frontend.Server, log *slog.Logger) *config.Config {
	next, err := read()
	if err != nil {
		log.Error("reload refused, the running configuration stays", "err", err)
		return cur
	}
	var restart []string
	if next.Listen != cur.Listen {
		restart = append(restart, "listen")
	}
	if next.Server != cur.Server {
		// The certificate is read again from the same files on every
		// SIGHUP; other paths, like every other [server] key, need a
		// restart.
		restart = append(restart, "server")
	}
	if !reflect.DeepEqual(next.Sessions, cur.Sessions) {
		restart = append(restart, "sessions")
	}
	if next.Log != cur.Log {
		restart = append(restart, "log")
	}
	routes, pools, err := ups.build(next, true)
	if err != nil {
		log.Error("reload refused, the running configuration stays", "err", err)
		return cur
	}
	ups.commit(next, pools)
	srv.SetRoutes(routes)
	if len(restart) > 0 {
		log.Warn("reload: these settings change only on a restart, the running ones stay", "sections", restart)
	}
	// The settings that need a restart stay as they run.
	next.Listen, next.Server, next.Sessions, next.Log = cur.Listen, cur.Server, cur.Sessions, cur.Log
	log.Info("configuration reloaded", "routes", len(routes), "pools", len(pools))
	return next
}
