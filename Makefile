# achat: every target a reader needs. `make help` lists them.

GO      ?= go
ADDR    ?= 127.0.0.1:8080
CHAPTER ?= limits
# Removes the 1 s pause at the end of every -race test binary.
export GORACE = atexit_sleep_ms=0

.PHONY: help run cluster cluster-mutants build seed measure test lint vet staticcheck diff fuzz spin soak bench docs compare compare-update

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

compare: build ## every scenario against every chapter (and the seed, if built); fails if a verdict is not CHAPTERS.md's
	./bin/achat compare -expect CHAPTERS.md

# compare-update also keeps the run's table, figures and all, in
# docs/compare-run.txt: the figures that pages quote come from it.
compare-update: build ## run the comparison, write its verdicts into CHAPTERS.md and its table into docs/compare-run.txt
	./bin/achat compare -expect CHAPTERS.md -update > docs/compare-run.txt

run: build ## build and run the server (CHAPTER=limits ADDR=127.0.0.1:8080)
	./bin/achat serve -chapter $(CHAPTER) -addr $(ADDR)

cluster: build ## a NATS server and three nodes of chapter cluster on loopback (PORT=8081 NATS_PORT=4222), until Ctrl-C
	./scripts/cluster

build: ## build bin/achat
	$(GO) build -o bin/achat ./cmd/achat

# The seed, if cargo is there: its column of achat compare is part of the
# tests. Without cargo, one line says how to get it, and the tests leave it
# out.
test: lint ## vet, staticcheck, build the seed if cargo is installed, then every test with the race detector
	@./scripts/build-seed --if-cargo
	$(GO) test -race ./...

SEED = seed/target/release/seed
seed: ## build the seed, the Rust/tokio chapter this project started from (needs cargo)
	./scripts/build-seed

lint: vet staticcheck ## go vet and staticcheck

vet:
	$(GO) vet ./...

staticcheck: ## staticcheck, pinned by the tool line in go.mod
	$(GO) tool staticcheck ./...

diff: ## diff two chapters' code, package lines made equal (FROM=drain TO=shutdown)
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make diff FROM=drain TO=shutdown"; exit 2; }
	@./scripts/chapter-diff $(FROM) $(TO)

SOAK ?= 20000
COVERAGE = $(CURDIR)/bin/coverage.tsv
soak: ## run the property tests with SOAK (20000) schedules per run, then print what they reached
	@mkdir -p bin && rm -f $(COVERAGE)
	CHATTEST_COVERAGE=$(COVERAGE) RAPID_CHECKS=$(SOAK) $(GO) test -race -timeout 60m -run 'Properties|Bug|Harness' ./chat/...
	@./scripts/coverage-table $(COVERAGE)

FUZZTIME ?= 30s
# FuzzConnection's coverage varies with goroutine scheduling, so the fuzzer
# often minimizes an input that only seemed new: 5s, not the default 60s.
fuzz: ## run each fuzz target for FUZZTIME (30s); their seed corpora run in make test
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./chat/protocol
	$(GO) test -run '^$$' -fuzz '^FuzzConnection$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./chat/replies

spin: ## model-check the shutdown protocol and its bug variants with Spin
	$(GO) run ./model/spin/cmd/spinreport

# The seed (Rust/tokio) to compare with, built by make seed. Without it,
# bench runs without the seed's rows.
BENCH_SEED = $(if $(wildcard $(SEED)),-seed $(SEED))
# Another build of achat to measure, e.g. an older commit's (BENCH_ACHAT=/tmp/achat-old).
BENCH_ACHAT ?= bin/achat
# slow runs pairs and fanout with room for a whole burst (-max-queued 65536):
# with its default bound it disconnects a client that reads, but not as fast
# as its partner sends (docs/08-slow.md), and there would be no rate to show.
# limits gets the same 65,536 lines, and -max-queued-bytes 4194304: its
# default 256 KiB would disconnect that client first (65,536 lines of pairs
# and fanout, about 33 bytes each, are 2.1 MB), so the line bound is the
# one that applies, as in slow. Settings go to every chapter with -lenient:
# a chapter ignores, and logs, those it does not have.
# The drain queues 300,000 lines: slow gets room for them. The flood keeps
# the default: that it stays bounded is the point.
# silent holds 2,000 connections that never log in: limits gets -max-conns
# 2000 (its default is 1,000) and -login-timeout 2s; slow has neither, and
# holds them until the client closes them. worst fills limits to its
# bounds: 200 clients and the flooder (-max-conns 201), 256 KiB each, and
# -write-timeout 1m so that no client is dropped before the flood is over.
bench: build ## measure pairs, fanout, drain, flood, idle, silent, worst, and cluster's pairs (and the seed, if built)
	$(GO) build -o bin/achatbench ./cmd/achatbench
	./bin/achatbench -achat $(BENCH_ACHAT) -chapter broker,shutdown,replies,slow,limits -max-queued 65536 -max-queued-bytes 4194304 $(BENCH_SEED) -echo -workloads pairs,fanout -runs 3
	./bin/achatbench -achat $(BENCH_ACHAT) -chapter shutdown,replies,slow -max-queued 400000 $(BENCH_SEED) -workloads drain -runs 3
	./bin/achatbench -achat $(BENCH_ACHAT) -chapter shutdown,replies,slow $(BENCH_SEED) -workloads flood -runs 3
	./bin/achatbench -achat $(BENCH_ACHAT) -chapter shutdown,replies,slow $(BENCH_SEED) -workloads idle -runs 1
	./bin/achatbench -achat $(BENCH_ACHAT) -chapter slow,limits -max-conns 2000 -login-timeout 2s -workloads silent -silent-clients 2000 -runs 1
	./bin/achatbench -achat $(BENCH_ACHAT) -chapter limits -max-conns 201 -max-queued-bytes 262144 -write-timeout 1m -workloads worst -worst-clients 200 -runs 3
	./bin/achatbench -achat $(BENCH_ACHAT) -chapter limits -cluster -max-queued 65536 -max-queued-bytes 4194304 -workloads pairs -runs 3
	$(GO) test -run '^$$' -bench . -benchmem ./chat/protocol/ ./chat/shutdown/

# The figures of CHAPTERS.md's "Measured" table: the drain tests of the
# built binary, their log lines kept in docs/sigint-run.txt.
measure: ## run the SIGINT drain tests and the rolling restart of the built binary; store their figures in docs/sigint-run.txt and docs/cluster-run.txt
	$(GO) test -count=1 -v -run 'SIGINT' ./cmd/achat | grep -E '^(=== RUN|--- |    sigint_test.go)' > docs/sigint-run.txt
	$(GO) test -count=1 -v -run 'TestRollingRestartUnderTraffic' ./cmd/achat | grep -E '^(=== RUN|--- |    cluster_test.go)' > docs/cluster-run.txt

# The mutants of chapter cluster, shrunk for as long as rapid shrinks for the
# docs; docs/10-cluster.md's table quotes what it stores.
cluster-mutants: ## store each mutant of chapter cluster, what caught it and its shrunk schedule, in docs/cluster-mutants.txt
	RAPID_NOFAILFILE=true $(GO) test -count=1 -v -run '^TestMutantsAreCaught$$' ./chat/cluster | ./scripts/mutant-stories > docs/cluster-mutants.txt

docs: ## rewrite the code excerpts and stored outputs in docs/ from the code
	$(GO) test -count=1 ./internal/doccheck -update -outputs
