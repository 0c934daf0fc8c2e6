package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"achat/bench"

	"github.com/stretchr/testify/assert"
)

func TestTableRatios(t *testing.T) {
	results := []bench.Result{
		{Workload: "pairs", Server: "shutdown", Delivered: 400, Expected: 400, Elapsed: time.Second},
		{Workload: "pairs", Server: "seed", Delivered: 100, Expected: 100, Elapsed: time.Second},
		{Workload: "pairs", Server: "echo", Delivered: 800, Expected: 800, Elapsed: time.Second},
		{Workload: "flood", Server: "shutdown", PeakRSSKB: 300},
		{Workload: "flood", Server: "seed", PeakRSSKB: 200},
	}
	assert.Equal(t, "4.00", ratio(results[0], results, "seed"))
	assert.Equal(t, "0.50", ratio(results[0], results, "echo"))
	assert.Equal(t, "1.50", ratio(results[3], results, "seed"))
	assert.Equal(t, "-", ratio(results[3], results, "echo"))
	var out strings.Builder
	printTable(&out, results)
	assert.Contains(t, out.String(), "400/400")
}

func TestMedianShowsFailures(t *testing.T) {
	runs := []bench.Result{
		{Delivered: 3, Elapsed: time.Second},
		{Delivered: 1, Elapsed: time.Second},
		{Delivered: 2, Elapsed: time.Second},
	}
	assert.Equal(t, 2, median(runs).Delivered)
	failed := bench.Result{Err: errors.New("timed out")}
	assert.Equal(t, failed.Err, median(append(runs, failed)).Err)
}

func TestUnknownWorkload(t *testing.T) {
	_, err := chooseWorkloads("pairs,nope")
	assert.Error(t, err)
}

func TestIdleRatioAndMedianAreMemoryPerConnection(t *testing.T) {
	results := []bench.Result{
		{Workload: "idle", Server: "shutdown", ConnRSSKB: 15},
		{Workload: "idle", Server: "seed", ConnRSSKB: 10},
	}
	assert.Equal(t, "1.50", ratio(results[0], results, "seed"))
	var out strings.Builder
	printTable(&out, results)
	assert.Contains(t, out.String(), "kB/conn")
	assert.Contains(t, out.String(), "15.0")
	runs := []bench.Result{
		{Workload: "idle", ConnRSSKB: 30, Delivered: 1, Elapsed: time.Second},
		{Workload: "idle", ConnRSSKB: 10, Delivered: 3, Elapsed: time.Second},
		{Workload: "idle", ConnRSSKB: 20, Delivered: 2, Elapsed: time.Second},
	}
	assert.Equal(t, 20.0, median(runs).ConnRSSKB)
}

func TestOpenFilesLimit(t *testing.T) {
	idle, err := chooseWorkloads("idle")
	assert.NoError(t, err)
	assert.NoError(t, raiseOpenFiles(idle, map[string]int{"idle": 10}))
	assert.Error(t, raiseOpenFiles(idle, map[string]int{"idle": 1 << 40}), "past the hard limit (or the kernel's nr_open)")
	silent, _ := chooseWorkloads("pairs,silent")
	assert.ErrorContains(t, raiseOpenFiles(silent, map[string]int{"idle": 1 << 40, "silent": 1 << 40}), "silent needs")
	pairs, _ := chooseWorkloads("pairs")
	assert.NoError(t, raiseOpenFiles(pairs, map[string]int{"idle": 1 << 40}), "only the workloads that hold connections need the files")
}

func TestSilentAndWorstColumns(t *testing.T) {
	results := []bench.Result{
		{Workload: "silent", Server: "slow", Delivered: 2000, Expected: 2000, ConnRSSKB: 8,
			BeforeRSSKB: 7 << 10, HeldRSSKB: 23 << 10, AfterRSSKB: 22 << 10,
			Released: 10 * time.Second, Kept: true, Watch: 5 * time.Second},
		{Workload: "silent", Server: "limits", Delivered: 2000, Expected: 2000, ConnRSSKB: 10,
			BeforeRSSKB: 7 << 10, HeldRSSKB: 25 << 10, AfterRSSKB: 12 << 10,
			Released: 2013 * time.Millisecond, HalfBack: 1250 * time.Millisecond, Watch: 5 * time.Second},
	}
	var out strings.Builder
	printTable(&out, results)
	assert.Contains(t, out.String(), "released")
	assert.Contains(t, out.String(), ">10s")
	assert.Contains(t, out.String(), "2.01s")
	assert.Contains(t, out.String(), ">5s", "slow's RSS did not come down by half within the watch")
	assert.Contains(t, out.String(), "1.25s")
	assert.NotContains(t, out.String(), "bound MB", "worst's columns only with worst")
	assert.Equal(t, "1.25", ratio(results[1], results, "slow"), "kB per connection")

	worst := []bench.Result{{Workload: "worst", Server: "limits", Delivered: 200, Expected: 200,
		Elapsed: time.Second, PeakRSSKB: 150 << 10, FilledKB: 70 << 10, BoundKB: 400 << 10, TCPMemKB: 800 << 10}}
	out.Reset()
	printTable(&out, worst)
	assert.Contains(t, out.String(), "bound MB")
	assert.Contains(t, out.String(), "400.0")
	assert.Contains(t, out.String(), "TCP buffers MB")
	assert.NotContains(t, out.String(), "released", "silent's columns only with silent")
	assert.Equal(t, "-", rate(worst[0]), "worst has no rate")

	out.Reset()
	printTable(&out, []bench.Result{{Workload: "pairs", Server: "slow", Delivered: 1, Expected: 1, Elapsed: time.Second}})
	assert.NotContains(t, out.String(), "RSS held", "the other tables read as before")
}

func TestMedianOfSilentAndWorstIsMemory(t *testing.T) {
	silent := []bench.Result{
		{Workload: "silent", ConnRSSKB: 30, Delivered: 1, Elapsed: time.Second},
		{Workload: "silent", ConnRSSKB: 10, Delivered: 3, Elapsed: time.Second},
		{Workload: "silent", ConnRSSKB: 20, Delivered: 2, Elapsed: time.Second},
	}
	assert.Equal(t, 20.0, median(silent).ConnRSSKB)
	worst := []bench.Result{
		{Workload: "worst", PeakRSSKB: 300, Delivered: 1},
		{Workload: "worst", PeakRSSKB: 100, Delivered: 3},
		{Workload: "worst", PeakRSSKB: 200, Delivered: 2},
	}
	assert.Equal(t, int64(200), median(worst).PeakRSSKB)
}

func TestServerFlagsAreLenient(t *testing.T) {
	assert.Nil(t, serverFlags{}.args(), "no setting, no flag: any build of achat runs")
	set := serverFlags{maxQueued: 65536, maxQueuedBytes: 4 << 20, loginTimeout: 2 * time.Second}
	assert.Equal(t, []string{"-lenient", "-max-queued", "65536", "-max-queued-bytes", "4194304", "-login-timeout", "2s"}, set.args())
}

func TestWhichWorkloadRunsAgainstWhichServer(t *testing.T) {
	ws, err := chooseWorkloads("pairs,silent,worst")
	assert.NoError(t, err)
	slow, limits, echo := target{name: "slow"}, target{name: "limits"}, target{name: "echo", echo: true}
	assert.True(t, runsAgainst(ws[0], echo))
	assert.False(t, runsAgainst(ws[1], echo), "echo has no login")
	assert.True(t, runsAgainst(ws[1], slow))
	assert.False(t, runsAgainst(ws[2], slow), "only limits has every bound")
	assert.True(t, runsAgainst(ws[2], limits))
}

func TestConnLimitOfChapterLimits(t *testing.T) {
	ws, _ := chooseWorkloads("silent")
	held := map[string]int{"silent": 2000}
	withLimits := []target{{name: "slow"}, {name: "limits"}}
	assert.ErrorContains(t, checkConnLimit(ws, withLimits, held, 0), "give -max-conns 2000 or more")
	assert.NoError(t, checkConnLimit(ws, withLimits, held, 2100))
	assert.NoError(t, checkConnLimit(ws, withLimits[:1], held, 0), "slow has no connection limit")
}
