# quota-gateway: a multi-stage build, a small runtime image.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY src src
COPY lua lua
RUN cargo build --release --locked && strip target/release/quota-gateway

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 quota
COPY --from=build /src/target/release/quota-gateway /usr/local/bin/quota-gateway
USER quota
ENV QG_LISTEN=0.0.0.0:8080 QG_LOG_FORMAT=json QG_DRAIN_MS=3000
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=2s CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["quota-gateway"]
