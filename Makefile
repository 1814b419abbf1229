# One command runs every test: make test.
GO ?= go
GOFLAGS_TEST ?= -race -count=1 -timeout 20m

.PHONY: test vet build fuzz bench clean screenshots

build:
	$(GO) build -o bin/flint ./cmd/flint

vet:
	$(GO) vet ./...

# go vet, then every test under the race detector, with a throwaway
# PostgreSQL when the server binaries are installed (scripts/with-postgres.sh).
# The crash-safety test kills a polling process ten times during a 200,000-indicator
# poll, and the memory test measures a server's peak RSS under 64 concurrent 15 MiB
# lookups; they run without the race detector, which would make the first take many
# minutes and multiplies the memory the second measures.
test: vet
	./scripts/with-postgres.sh sh -c '$(GO) test $(GOFLAGS_TEST) -json ./... > test-output.json; a=$$?; \
	  $(GO) test -count=1 -timeout 20m -json -run "^TestCrash|^TestServeMemory" ./internal/scheduler ./internal/cli >> test-output.json; b=$$?; \
	  [ $$a -eq 0 ] && [ $$b -eq 0 ]'; \
	  status=$$?; \
	  $(GO) run ./scripts/testsummary < test-output.json; \
	  summary=$$?; \
	  [ $$status -eq 0 ] && [ $$summary -eq 0 ]

# Short fuzzing of every parser (FUZZTIME per target).
FUZZTIME ?= 20s
fuzz:
	$(GO) test ./internal/ignite -run '^$$' -fuzz '^FuzzParseTime$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/ignite -run '^$$' -fuzz '^FuzzDecodeIndicatorsPage$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/ignite -run '^$$' -fuzz '^FuzzDecodeVulnerability$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/ignite -run '^$$' -fuzz '^FuzzDecodeReportsAndEvents$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/indicator -run '^$$' -fuzz '^FuzzNormalize$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/stix -run '^$$' -fuzz '^FuzzParsePattern$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/stix -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/service -run '^$$' -fuzz '^FuzzQueryParams$$' -fuzztime $(FUZZTIME)

bench:
	./scripts/with-postgres.sh $(GO) test ./internal/ignite/... ./internal/store/... -run '^$$' -bench . -benchmem
	$(GO) run ./cmd/flint bench fetch --indicators 1000000
	$(GO) run ./cmd/flint bench store
	$(GO) run ./cmd/flint bench ingest
	$(GO) run ./cmd/flint bench api
	$(GO) run ./cmd/flint bench outlets

clean:
	rm -rf bin test-output.json

# Screenshots of the console's main pages, taken by its browser tests
# (Debian's chromium) into docs/console/.
screenshots:
	mkdir -p docs/console
	FLINT_SCREENSHOTS=$(CURDIR)/docs/console FLINT_REQUIRE_BROWSER=1 $(GO) test -count=1 -run 'Journey' ./internal/web
