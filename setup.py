"""The compiled modules (``retrieval._postings``, ``retrieval._segment``); everything else is in
pyproject.toml.

They are optional: where no C compiler is at hand the install goes on, ``retrieval.postings``
does the same sums with numpy and ``retrieval.segment`` lets jieba run its own loops (slower;
the same bits and words).
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
        ),
        Extension(
            "retrieval._segment",
            ["retrieval/_segment.c"],
            extra_compile_args=["-O3", "-ffp-contract=off"],  # jieba's bits (see the source)
            optional=True,
        ),
    ]
)
