package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"achat/bench"
)

// printTable prints one row per result, with its rate as a ratio to the
// seed's and to echo's rate in the same workload, when those ran. For idle,
// msg/s is logins per second (each a login and one echoed sync line), and
// kB/conn is the figure.
func printTable(w io.Writer, results []bench.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tserver\tdelivered\ttime\tmsg/s\tp50\tp99\tpeak RSS MB\tkB/conn\tx seed\tx echo\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			r.Workload, r.Server, r.Delivered, r.Expected, r.Elapsed.Round(time.Millisecond),
			r.Rate(), latency(r.P50), latency(r.P99), rss(r.PeakRSSKB), perConn(r.ConnRSSKB),
			ratio(r, results, "seed"), ratio(r, results, "echo"))
	}
	tw.Flush()
	for _, r := range results {
		if r.Err != nil {
			fmt.Fprintf(w, "error: %s against %s: %v\n", r.Workload, r.Server, r.Err)
		}
	}
}

func latency(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.Round(10 * time.Microsecond).String()
}

func rss(kB int64) string {
	if kB == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(kB)/1024)
}

func perConn(kB float64) string {
	if kB == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", kB)
}

// ratio is r's rate over the rate of server in r's workload, or "-". For
// flood, whose figure is memory, it is the ratio of peak RSS; for idle, of
// kB per connection.
func ratio(r bench.Result, results []bench.Result, server string) string {
	for _, o := range results {
		if o.Workload != r.Workload || o.Server != server || o.Err != nil {
			continue
		}
		if r.Workload == "idle" && o.ConnRSSKB > 0 {
			return fmt.Sprintf("%.2f", r.ConnRSSKB/o.ConnRSSKB)
		}
		if r.Workload == "flood" && o.PeakRSSKB > 0 {
			return fmt.Sprintf("%.2f", float64(r.PeakRSSKB)/float64(o.PeakRSSKB))
		}
		if o.Rate() > 0 {
			return fmt.Sprintf("%.2f", r.Rate()/o.Rate())
		}
	}
	return "-"
}
