"""Build of dpa's optional C kernel; everything else is in pyproject.toml.

The extension is optional: where no C compiler is available the build
carries on without it and dpa uses its numpy kernels (same bits, slower).
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# Bit-exactness needs every multiply and add rounded on its own: no fused
# multiply-add contraction (GCC contracts by default), no fast-math.
# -fno-math-errno and -fno-trapping-math change no value: they let sqrt and floor
# compile to their (exact) vector instructions instead of library calls.
_GCC_LIKE = ["-O3", "-ffp-contract=off", "-fno-fast-math", "-fno-math-errno", "-fno-trapping-math", "-std=c99"]
_MSVC = ["/O2", "/fp:precise", "/std:c11"]  # untested here: no Windows machine; a failed build falls back


class _BuildExt(build_ext):
    def build_extensions(self) -> None:
        flags = _MSVC if self.compiler.compiler_type == "msvc" else _GCC_LIKE
        for ext in self.extensions:
            ext.extra_compile_args = flags
        super().build_extensions()


setup(
    ext_modules=[
        Extension(
            "dpa._ckernel", ["src/dpa/_ckernel.c"], depends=["src/dpa/_xxh64.h", "src/dpa/_fmath.h", "src/dpa/_interp.h", "src/dpa/_noise.h"], optional=True
        )
    ],
    cmdclass={"build_ext": _BuildExt},
)
