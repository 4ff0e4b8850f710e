package config

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteRoutes writes the route table that `nanogate check` prints: a
// header, then one line per endpoint, the route's columns filled on its
// first line only. HOST "*" is any host; MATCH is the path prefix, or "~"
// and the regex. Call it on a validated Config so defaults show.
//
//	ROUTE  HOST         MATCH  TIMEOUT  CONTEXTS  ENDPOINT                      MODE    PRIORITY
//	api    *            /api/  30s      64        ipc:///tmp/nanogate-api.sock  dial    0
//	                                              tcp://10.0.0.7:5555           dial    1
func (c *Config) WriteRoutes(w io.Writer) error {
	for _, warn := range c.Warnings {
		fmt.Fprintln(w, "warning: "+warn)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUTE\tHOST\tMATCH\tTIMEOUT\tCONTEXTS\tENDPOINT\tMODE\tPRIORITY")
	for _, r := range c.Routes {
		host, match := r.Host, r.Path
		if host == "" {
			host = "*"
		}
		if r.Regex != "" {
			match = "~" + r.Regex
		}
		route := fmt.Sprintf("%s\t%s\t%s\t%s\t%d", r.Name, host, match, r.Timeout, r.Contexts)
		if r.Format == FormatZHTTP {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\n", route, r.ZHTTP.Base(), zhttpMode(r.ZHTTP))
			continue
		}
		if len(r.Endpoints) == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\t-\n", route)
		}
		for _, e := range r.Endpoints {
			mode := "dial"
			if e.Listen {
				mode = "listen"
			}
			if r.Format == FormatBlastBeat {
				mode = "bind, nodes " + strings.Join(r.BlastBeat.Nodes, ",")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", route, e.URL, mode, strconv.Itoa(e.Priority))
			route = "\t\t\t\t"
		}
	}
	return tw.Flush()
}
