# The operator's image: built on Debian 12 with the build packages scripts/setup installs, run on
# bookworm-slim with only the shared libraries the binary loads, as the non-root user 65532.
#
#   docker build -t sessionstore-operator:0.1.0 .
#
# There is no container engine in this project's CI: scripts/dockerfile-check runs this file's
# builder steps on the (Debian 12) machine itself and checks that the binary runs and that every
# shared library it loads comes from a package the runtime stage installs (ctest:
# dockerfile_check). Keep the stages in the shape it reads: ARGs for the paths, one RUN with
# apt-get alone per stage, COPY into $SRC, the build in RUN lines that use $SRC, $BUILD and $OUT.

FROM debian:bookworm AS builder
ARG SRC=/src
ARG BUILD=/build
ARG OUT=/out
# scripts/setup's build packages (its test-only ones left out: redis, prometheus, clang-format).
# GoogleTest is there because the top-level CMakeLists.txt configures the tests too.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libcpprest-dev libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev \
      libgtest-dev libgmock-dev libhiredis-dev libssl-dev libboost-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR $SRC
COPY CMakeLists.txt ./
COPY operator/ operator/
COPY tests/ tests/
COPY bench/ bench/
# Release at -O2, as Debian builds its packages: at CMake's default -O3, g++ 12 reports a false
# -Wrestrict inside libstdc++'s std::string (GCC bug 105651), and warnings are errors.
RUN cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
 && cmake --build "$BUILD" --target sessionstore-operator
RUN install -D -m 0755 "$BUILD/operator/app/sessionstore-operator" "$OUT/sessionstore-operator" \
 && strip "$OUT/sessionstore-operator"

FROM debian:bookworm-slim
# The runtime packages of the libraries the binary loads (ldd), beside libc6, libgcc-s1 and
# libstdc++6, which every bookworm-slim has; ca-certificates for https Prometheus endpoints.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcpprest2.10 libbrotli1 zlib1g libssl3 libspdlog1.10 libfmt9 libhiredis0.14 \
      libyaml-cpp0.7 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=builder /out/sessionstore-operator /usr/local/bin/sessionstore-operator
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/sessionstore-operator"]
CMD ["run"]
