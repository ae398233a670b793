# The two commands of the README: `make run` (the whole dev stack) and
# `make test` (every test, under the race detector). Both bring up
# PostgreSQL first when it is not there.
SHELL := /bin/bash
GO    ?= go

.PHONY: run cluster test bench build postgres fuzz lint

## run: PostgreSQL, an embedded Temporal dev server + Web UI, the worker and the API
run: postgres
	$(GO) build -o bin/devstack ./cmd/devstack
	./bin/devstack

## cluster: the production shape as separate processes (docker-compose.yml
## without Docker): Temporal on PostgreSQL with its Web UI, the API, two workers
cluster: postgres
	$(GO) build -o bin/ ./cmd/webhooks ./cmd/cluster
	$(GO) build -o bin/temporal-server go.temporal.io/server/cmd/server
	$(GO) build -o bin/temporal-sql-tool go.temporal.io/server/cmd/tools/sql
	$(GO) build -o bin/temporal-ui github.com/temporalio/ui-server/v2/cmd/server
	./bin/cluster

## test: every test against the real PostgreSQL and an embedded Temporal server, with -race
test: postgres
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 25m ./...

## bench: the load command (throughput, latency, fan-out, memory, floors)
bench: postgres
	$(GO) run ./cmd/bench

## build: the binaries into bin/
build:
	$(GO) build -o bin/ ./cmd/...

## fuzz: run the API body fuzzers for a while (FUZZTIME=1m)
FUZZTIME ?= 1m
fuzz: postgres
	$(GO) test ./api -run XXX -fuzz FuzzWebhookBody -fuzztime $(FUZZTIME)
	$(GO) test ./api -run XXX -fuzz FuzzEventBody -fuzztime $(FUZZTIME)

postgres:
	@bash scripts/ensure-postgres.sh
