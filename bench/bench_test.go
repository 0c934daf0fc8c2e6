package bench

import (
	"os"
	"testing"
	"time"

	"achat/chat/shutdown"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tiny keeps every workload well under a second.
var tiny = Config{Clients: 4, Messages: 400, Duration: time.Second, Timeout: 5 * time.Second}

func startShutdown(t testing.TB) *Server {
	srv, err := InProcessServer("shutdown", shutdown.New(shutdown.Config{}))
	require.NoError(t, err)
	return srv
}

func TestWorkloadsAgainstShutdown(t *testing.T) {
	for _, w := range []struct {
		name string
		run  func(*Server, Config) Result
	}{{"pairs", Pairs}, {"fanout", Fanout}, {"drain", Drain}, {"flood", Flood}, {"idle", Idle}} {
		t.Run(w.name, func(t *testing.T) {
			srv := startShutdown(t)
			res := w.run(srv, tiny)
			require.NoError(t, res.Err)
			assert.Equal(t, res.Expected, res.Delivered)
			assert.Positive(t, res.Elapsed)
			if w.name != "drain" { // Drain has stopped the server already
				require.NoError(t, srv.Stop())
			}
			require.NoError(t, srv.Wait(time.Second))
		})
	}
}

func TestWorkloadsAgainstEcho(t *testing.T) {
	for _, run := range []func(*Server, Config) Result{Pairs, Fanout} {
		srv, err := InProcessServer("echo", NewEcho())
		require.NoError(t, err)
		cfg := tiny
		cfg.Echo = true
		res := run(srv, cfg)
		require.NoError(t, res.Err)
		assert.Equal(t, res.Expected, res.Delivered)
		assert.Positive(t, res.P99)
		require.NoError(t, srv.Stop())
	}
}

func TestFanoutRolesDeliverAtLeastTotal(t *testing.T) {
	roles := fanoutRoles(50, 400_000)
	assert.Len(t, roles, 50)
	assert.Equal(t, 8164, roles[0].send)
	assert.Equal(t, 8164*49, 49*roles[1].recv)
}

func TestPercentile(t *testing.T) {
	lat := []time.Duration{5, 1, 4, 2, 3}
	assert.Equal(t, time.Duration(3), percentile(lat, 0.5))
	assert.Equal(t, time.Duration(4), percentile(lat, 0.99))
	assert.Zero(t, percentile(nil, 0.5))
}

// BenchmarkPairsShutdown runs the pairs workload against an in-process
// shutdown server, b.N deliveries, for a CPU profile of the server:
//
//	go test -run '^$' -bench PairsShutdown -cpuprofile cpu.out ./bench/
//	go tool pprof -top -focus 'chat/' bench.test cpu.out
func BenchmarkPairsShutdown(b *testing.B) {
	srv := startShutdown(b)
	defer srv.Stop()
	cfg := Config{Clients: 50, Messages: max(b.N, 50), Timeout: time.Minute}
	b.ResetTimer()
	res := Pairs(srv, cfg)
	require.NoError(b, res.Err)
	b.ReportMetric(res.Rate(), "msg/s")
}

// BenchmarkFanoutShutdown is BenchmarkPairsShutdown for fanout.
func BenchmarkFanoutShutdown(b *testing.B) {
	srv := startShutdown(b)
	defer srv.Stop()
	cfg := Config{Clients: 50, Messages: max(b.N, 49), Timeout: time.Minute}
	b.ResetTimer()
	res := Fanout(srv, cfg)
	require.NoError(b, res.Err)
	b.ReportMetric(res.Rate(), "msg/s")
}

func TestRSSOfThisProcess(t *testing.T) {
	self := &Server{Name: "self", PID: os.Getpid()}
	rss, err := self.RSS()
	require.NoError(t, err)
	peak, err := self.PeakRSS()
	require.NoError(t, err)
	assert.Positive(t, rss)
	assert.GreaterOrEqual(t, peak, rss)
}
