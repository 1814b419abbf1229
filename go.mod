module github.com/flintcti/flint

go 1.26.8

require (
	github.com/alecthomas/kong v1.17.0
	github.com/cenkalti/backoff/v5 v5.0.3
	github.com/pandatix/go-cvss v0.6.4
	golang.org/x/time v0.16.0
)

require github.com/google/go-cmp v0.7.0
