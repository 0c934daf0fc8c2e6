package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"achat/bench"
)

// column is one of the table's columns: its heading and each row's cell.
type column struct {
	head string
	cell func(r bench.Result, results []bench.Result) string
}

// columns are printed for every table. For idle and silent, msg/s is
// connections a second (for idle each a login and one echoed sync line),
// and kB/conn is the figure; worst has no rate.
var columns = []column{
	{"workload", func(r bench.Result, _ []bench.Result) string { return r.Workload }},
	{"server", func(r bench.Result, _ []bench.Result) string { return r.Server }},
	{"delivered", func(r bench.Result, _ []bench.Result) string { return fmt.Sprintf("%d/%d", r.Delivered, r.Expected) }},
	{"time", func(r bench.Result, _ []bench.Result) string { return r.Elapsed.Round(time.Millisecond).String() }},
	{"msg/s", func(r bench.Result, _ []bench.Result) string { return rate(r) }},
	{"p50", func(r bench.Result, _ []bench.Result) string { return latency(r.P50) }},
	{"p99", func(r bench.Result, _ []bench.Result) string { return latency(r.P99) }},
	{"peak RSS MB", func(r bench.Result, _ []bench.Result) string { return rss(r.PeakRSSKB) }},
	{"kB/conn", func(r bench.Result, _ []bench.Result) string { return perConn(r.ConnRSSKB) }},
	{"x seed", func(r bench.Result, rs []bench.Result) string { return ratio(r, rs, "seed") }},
	{"x echo", func(r bench.Result, rs []bench.Result) string { return ratio(r, rs, "echo") }},
}

// extraColumns are printed only in a table with a result that has them:
// silent's and worst's, so that the other tables read as before.
var extraColumns = []struct {
	column
	has func(bench.Result) bool
}{
	{column{"RSS before MB", func(r bench.Result, _ []bench.Result) string { return rss(r.BeforeRSSKB) }}, isSilent},
	{column{"RSS held MB", func(r bench.Result, _ []bench.Result) string { return rss(r.HeldRSSKB) }}, isSilent},
	{column{"released", func(r bench.Result, _ []bench.Result) string { return released(r) }}, isSilent},
	{column{"RSS after MB", func(r bench.Result, _ []bench.Result) string { return rss(r.AfterRSSKB) }}, isSilent},
	{column{"half back", func(r bench.Result, _ []bench.Result) string { return halfBack(r) }}, isSilent},
	{column{"filled MB", func(r bench.Result, _ []bench.Result) string { return rss(r.FilledKB) }}, isWorst},
	{column{"bound MB", func(r bench.Result, _ []bench.Result) string { return rss(r.BoundKB) }}, isWorst},
	{column{"TCP buffers MB", func(r bench.Result, _ []bench.Result) string { return rss(r.TCPMemKB) }}, isWorst},
}

func isSilent(r bench.Result) bool { return r.Workload == "silent" }
func isWorst(r bench.Result) bool  { return r.Workload == "worst" }

// printTable prints one row per result, with its rate as a ratio to the
// seed's and to echo's rate in the same workload, when those ran.
func printTable(w io.Writer, results []bench.Result) {
	cols := columns
	for _, c := range extraColumns {
		for _, r := range results {
			if c.has(r) {
				cols = append(cols, c.column)
				break
			}
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	cells := make([]string, len(cols))
	for i, c := range cols {
		cells[i] = c.head
	}
	fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	for _, r := range results {
		for i, c := range cols {
			cells[i] = c.cell(r, results)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()
	for _, r := range results {
		if r.Err != nil {
			fmt.Fprintf(w, "error: %s against %s: %v\n", r.Workload, r.Server, r.Err)
		}
	}
}

func rate(r bench.Result) string {
	if r.Workload == "worst" {
		return "-"
	}
	return fmt.Sprintf("%.0f", r.Rate())
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

// released is how long the server took to let silent's connections go, or
// ">WAIT" if it still held them when silent stopped waiting.
func released(r bench.Result) string {
	if r.Kept {
		return ">" + r.Released.String()
	}
	if r.Released == 0 {
		return "-"
	}
	return r.Released.Round(10 * time.Millisecond).String()
}

// halfBack is how long the server's RSS took to come down by half of what
// silent's connections added, ">WATCH" if it did not within the watch, and
// "-" if its RSS is unknown.
func halfBack(r bench.Result) string {
	switch {
	case r.HalfBack > 0:
		return r.HalfBack.Round(10 * time.Millisecond).String()
	case r.AfterRSSKB == 0:
		return "-"
	}
	return ">" + r.Watch.String()
}

// ratio is r's rate over the rate of server in r's workload, or "-". For
// flood and worst, whose figure is memory, it is the ratio of peak RSS; for
// idle and silent, of kB per connection.
func ratio(r bench.Result, results []bench.Result, server string) string {
	for _, o := range results {
		if o.Workload != r.Workload || o.Server != server || o.Err != nil {
			continue
		}
		switch {
		case (r.Workload == "idle" || r.Workload == "silent") && o.ConnRSSKB > 0:
			return fmt.Sprintf("%.2f", r.ConnRSSKB/o.ConnRSSKB)
		case (r.Workload == "flood" || r.Workload == "worst") && o.PeakRSSKB > 0:
			return fmt.Sprintf("%.2f", float64(r.PeakRSSKB)/float64(o.PeakRSSKB))
		case o.Rate() > 0:
			return fmt.Sprintf("%.2f", r.Rate()/o.Rate())
		}
	}
	return "-"
}
