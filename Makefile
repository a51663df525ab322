# onramp — see README.md.
SHELL := bash
GO ?= go
PG_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: dev build test localcluster gitea bench vet clean

## dev: build the local control plane if needed and bin/onramp, then run onramp dev
dev: localcluster build
	./bin/onramp dev

## build: the onramp binary into bin/ (no cgo)
build:
	CGO_ENABLED=0 $(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/onramp ./cmd/onramp

## localcluster: build etcd, kube-apiserver, kube-controller-manager and Flux from pinned modules (cached)
localcluster:
	$(GO) run ./cmd/localcluster build

## gitea: build the Gitea the external Git provider tests run, from a pinned module (cached; cgo)
gitea:
	$(GO) run ./cmd/localgitea build

## test: every test, against SQLite, PostgreSQL, a real control plane with Flux, a real Gitea and a real browser
test: localcluster gitea
	$(GO) vet ./...
	$(GO) test -race -count=1 -run Concurrent ./templates/
	ONRAMP_TEST_POSTGRES_URL="$${ONRAMP_TEST_POSTGRES_URL:-$(PG_URL)}" ONRAMP_REQUIRE_CLUSTER=1 \
		ONRAMP_REQUIRE_GITEA=1 $(GO) test -count=1 -timeout 60m ./...

## bench: the benchmarks the issues ask for, with figures printed
bench: localcluster gitea
	ONRAMP_TEST_POSTGRES_URL="$${ONRAMP_TEST_POSTGRES_URL:-$(PG_URL)}" \
		$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./...

vet:
	$(GO) vet ./...

clean:
	rm -rf bin .onramp
