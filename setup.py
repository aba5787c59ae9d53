"""The one compiled module (``retrieval._postings``); everything else is in pyproject.toml.

It is optional: where no C compiler is at hand the install goes on and ``retrieval.postings``
does the same sums with numpy (slower; the same bits).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "retrieval._postings",
            ["retrieval/_postings.c"],
            # no fused multiply-add: the sums must round as numpy's do (see the source)
            extra_compile_args=["-O3", "-ffp-contract=off"],
            optional=True,
        )
    ]
)
