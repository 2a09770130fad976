# The operator's image: built on Debian 12 with the build packages scripts/setup installs, run on
# bookworm-slim with only the shared libraries the binary loads, as the non-root user 65532.
#
#   docker build -t sessionstore-operator:0.1.0 .
#
# scripts/build-images builds this file with buildah (no registry: the Debian base is made with
# debootstrap and tagged debian:bookworm and debian:bookworm-slim locally), and the node profile's
# suite runs the image as the operator's Deployment (tests/node/seeds_node_test.cpp).

FROM debian:bookworm AS builder
ARG SRC=/src
ARG BUILD=/build
ARG OUT=/out
# scripts/setup's build packages, its test-only ones left out (GoogleTest, redis, prometheus,
# clang-format): the tests are not configured here (SESSIONSTORE_TESTS=OFF).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libcpprest-dev libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev \
      libhiredis-dev libssl-dev libboost-dev libjemalloc-dev zlib1g-dev ccache \
 && rm -rf /var/lib/apt/lists/*
WORKDIR $SRC
COPY CMakeLists.txt ./
COPY operator/ operator/
# Release at -O2, as Debian builds its packages: at CMake's default -O3, g++ 12 reports a false
# -Wrestrict inside libstdc++'s std::string (GCC bug 105651), and warnings are errors. The
# compiler cache lives in a build cache mount (BuildKit, buildah), so a rebuild after a small
# change recompiles only what changed; the image never holds it.
RUN --mount=type=cache,target=/root/.cache/ccache \
    cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSESSIONSTORE_TESTS=OFF \
      -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
 && CCACHE_DIR=/root/.cache/ccache cmake --build "$BUILD" --target sessionstore-operator
RUN install -D -m 0755 "$BUILD/operator/app/sessionstore-operator" "$OUT/sessionstore-operator" \
 && strip "$OUT/sessionstore-operator"

FROM debian:bookworm-slim
# The runtime packages of the libraries the binary loads (ldd), beside libc6, libgcc-s1 and
# libstdc++6, which every bookworm-slim has; ca-certificates for https Prometheus endpoints.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcpprest2.10 libbrotli1 zlib1g libssl3 libspdlog1.10 libfmt9 libhiredis0.14 \
      libyaml-cpp0.7 libjemalloc2 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=builder /out/sessionstore-operator /usr/local/bin/sessionstore-operator
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/sessionstore-operator"]
CMD ["run"]
