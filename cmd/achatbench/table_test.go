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
	assert.NoError(t, raiseOpenFiles(idle, 10))
	assert.Error(t, raiseOpenFiles(idle, 1<<40), "past the hard limit (or the kernel's nr_open)")
	pairs, _ := chooseWorkloads("pairs")
	assert.NoError(t, raiseOpenFiles(pairs, 1<<40), "only idle needs the files")
}
