# onramp — see README.md.
SHELL := bash
GO ?= go
PG_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
CREATED ?= $(shell git log -1 --format=%cI 2>/dev/null)
ARCH ?= amd64
IMAGE_REPOSITORY ?= ghcr.io/onramp/onramp

.PHONY: dev build image test lint localcluster gitea bench vet clean

## dev: build the local control plane if needed and bin/onramp, then run onramp dev (ARGS=--gitea adds a Gitea)
dev: localcluster build
	./bin/onramp dev $(ARGS)

## build: the onramp binary into bin/ (no cgo)
build:
	CGO_ENABLED=0 $(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/onramp ./cmd/onramp

## image: onramp's container image as a tarball, without Docker (bin/onramp-image-ARCH.tar;
##        docker load, podman load and crane push take it; ARCH=arm64 cross-builds)
image:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" \
		-o bin/linux-$(ARCH)/onramp ./cmd/onramp
	$(GO) run ./cmd/onramp-image -binary bin/linux-$(ARCH)/onramp -arch $(ARCH) -repository $(IMAGE_REPOSITORY) \
		-version $(VERSION) -revision "$(REVISION)" -created "$(CREATED)" -o bin/onramp-image-$(ARCH).tar

## localcluster: build etcd, kube-apiserver, kube-controller-manager and Flux from pinned modules (cached)
localcluster:
	$(GO) run ./cmd/localcluster build

# RACE are the packages whose code is concurrent: their tests run under the
# race detector; the others' run without it (the control plane's tests
# would take too long).
RACE := ./store/... ./status/... ./pipeline/... ./gitserver/... ./api/... ./templates/...
ERRCHECK := github.com/kisielk/errcheck@v1.10.0
TESTENV := ONRAMP_TEST_POSTGRES_URL="$${ONRAMP_TEST_POSTGRES_URL:-$(PG_URL)}" ONRAMP_REQUIRE_CLUSTER=1 ONRAMP_REQUIRE_GITEA=1

## gitea: build the Gitea the external Git provider tests run, from a pinned module (cached; cgo)
gitea:
	$(GO) run ./cmd/localgitea build

## test: every test, against SQLite, PostgreSQL, a real control plane with Flux, a real Gitea and a real browser
test: localcluster gitea lint
	$(TESTENV) $(GO) test -race -count=1 -timeout 30m $(RACE)
	$(TESTENV) $(GO) test -count=1 -timeout 60m $$($(GO) list ./... | grep -v -e /store -e /status -e /pipeline -e /gitserver -e /api -e /templates)

## lint: go vet, and errcheck for dropped errors (.errcheck-excludes says which are fine to drop)
lint:
	$(GO) vet ./...
	$(GO) run $(ERRCHECK) -ignoretests -exclude .errcheck-excludes ./...

## bench: every benchmark, against the local control plane, with figures printed
bench: localcluster gitea
	ONRAMP_TEST_POSTGRES_URL="$${ONRAMP_TEST_POSTGRES_URL:-$(PG_URL)}" \
		$(GO) test -run '^$$' -bench . -timeout 60m ./...

vet:
	$(GO) vet ./...

clean:
	rm -rf bin .onramp
