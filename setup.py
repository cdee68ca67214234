"""Builds the `eagle` package with the project's own CMake: the pybind11 module _eagle and the library it links,
then places the module, python/eagle's files and the embedded ShapesWorld model in the package.

    python3 -m pip install --no-build-isolation .          (scripts/setup.sh first: packages and llama.cpp)

EAGLE_CMAKE_ARGS adds configure arguments (e.g. "--preset system" for a llama.cpp that find_package finds).
"""

import os
import shlex
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = os.path.join(ROOT, "build-python")
        args = shlex.split(os.environ.get("EAGLE_CMAKE_ARGS", "")) or [
            f"-DEAGLE_LLAMA_PREFIX={os.path.join(ROOT, '.cache', 'llama-sid')}"]
        subprocess.check_call(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
                               f"-DPython3_EXECUTABLE={sys.executable}", "-DEAGLE_BUILD_PYTHON=ON",
                               "-DEAGLE_BUILD_TESTS=OFF", "-DEAGLE_BUILD_BENCHMARKS=OFF", *args])
        subprocess.check_call(["cmake", "--build", build_dir, "--target", "_eagle", "-j", str(os.cpu_count() or 2)])
        built = os.path.join(build_dir, "python", "eagle")
        target = os.path.dirname(self.get_ext_fullpath(ext.name))
        os.makedirs(os.path.join(target, "models"), exist_ok=True)
        for name in os.listdir(built):
            if name.startswith("_eagle") or name.endswith((".py", ".pyi")) or name == "py.typed":
                shutil.copy2(os.path.join(built, name), target)
        # the modules the library loads on first use (image formats beyond PNG and JPEG, videos), beside _eagle,
        # where it looks first (src/image/module-loader.h); building _eagle builds them
        for name in ("libeagle-codecs.so", "libeagle-video.so"):
            shutil.copy2(os.path.join(build_dir, "bin", name), target)
        for name in ("shapesworld-model.gguf", "shapesworld-mmproj.gguf"):
            shutil.copy2(os.path.join(ROOT, "models", name), os.path.join(target, "models", name))


setup(packages=["eagle"], package_dir={"": "python"}, ext_modules=[Extension("eagle._eagle", sources=[])],
      cmdclass={"build_ext": CMakeBuild}, zip_safe=False)
