# syntax=docker/dockerfile:1
#
# compliance-connect as a container image: one static binary on an empty base.
#
#   docker build --build-arg VERSION=v0.1.0 --build-arg COMMIT=$(git rev-parse --short HEAD) -t compliance-connect .
#   docker run --rm compliance-connect demo                  # against the built-in fake API, no key
#   docker run -d -e ANTHROPIC_COMPLIANCE_API_KEY -p 4195:4195 \
#     -v compliance-state:/var/lib/compliance-connect compliance-connect   # config/stdout.yaml
#   docker run ... -v $PWD/pipeline.yaml:/etc/compliance-connect/pipeline.yaml:ro compliance-connect
#
# The final stage holds the binary, the healthcheck probe, a CA bundle, Go's
# time zone database and the default pipeline, and runs as uid 65532. No
# daemon is needed to check it: tests/ops builds the same binaries and runs the
# demo and a TLS backfill in an empty chroot laid out like this stage
# (`go test ./tests/ops -run EmptyRoot`, as root).

ARG GO_VERSION=1.26.10

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
ARG COMMIT=""
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
        -o /out/compliance-connect ./cmd/compliance-connect \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/healthcheck ./deploy/healthcheck \
 && mkdir -p /out/var-lib/compliance-connect

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /usr/local/go/lib/time/zoneinfo.zip /usr/local/share/zoneinfo.zip
COPY --from=build /out/compliance-connect /usr/local/bin/compliance-connect
COPY --from=build /out/healthcheck /usr/local/bin/healthcheck
COPY config/stdout.yaml /etc/compliance-connect/pipeline.yaml
# The state directory, owned by the runtime user (the named volume a
# `docker run -v name:...` creates inherits this owner).
COPY --from=build --chown=65532:65532 /out/var-lib/ /var/lib/
# The image has no /tmp: the demo writes its temporary config here.
ENV TMPDIR=/var/lib/compliance-connect \
    ZONEINFO=/usr/local/share/zoneinfo.zip
USER 65532:65532
WORKDIR /var/lib/compliance-connect
VOLUME ["/var/lib/compliance-connect"]
# Benthos' HTTP server: /ready, /metrics, /compliance/<label>/jobs.
EXPOSE 4195
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/healthcheck", "http://127.0.0.1:4195/ready"]
ENTRYPOINT ["/usr/local/bin/compliance-connect"]
CMD ["run", "/etc/compliance-connect/pipeline.yaml"]
