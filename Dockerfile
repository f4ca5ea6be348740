# Hearth in a container. Build: docker build -t hearth .
# Run:   docker run -p 4327:4327 -v hearth-data:/var/lib/hearth hearth
#
# The image is built for x86-64-v3 (AVX2/FMA) so it runs on any recent x86 CPU;
# build with --build-arg RUSTFLAGS="-C target-cpu=native" for the machine at hand.

FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake clang libclang-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG RUSTFLAGS="-C target-cpu=x86-64-v3"
ENV RUSTFLAGS=${RUSTFLAGS}
RUN cargo build --release --locked -p hearth \
 && install -m 0755 target/release/hearth /usr/local/bin/hearth

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/hearth --create-home hearth
COPY --from=build /usr/local/bin/hearth /usr/local/bin/hearth
USER hearth
# A container listens on all interfaces; TLS is expected from a proxy in front.
# To serve HTTPS directly, set HEARTH_SERVER_TLS_CERT/KEY and drop the insecure switch.
ENV HEARTH_STORAGE_DATA_DIR=/var/lib/hearth \
    HEARTH_SERVER_BIND=0.0.0.0:4327 \
    HEARTH_SERVER_ALLOW_INSECURE_BIND=true \
    HEARTH_LOG_FORMAT=json
VOLUME ["/var/lib/hearth"]
EXPOSE 4327
HEALTHCHECK --interval=30s --timeout=3s CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/4327"]
ENTRYPOINT ["hearth"]
CMD ["serve"]
