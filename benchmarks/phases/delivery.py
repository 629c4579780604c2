"""Deliveries: the PDF handed over, built for a letter of 10,000 public names
(benchmarks/delivery_bench.py)."""

from benchmarks import delivery_bench
from benchmarks.harness.bench import Bench
from benchmarks.registry import phase


@phase(
    targets={"delivery_pdf_10k_s": ("<=", 30), "delivery_pdf_10k_mb": ("<=", 300)},
    doc={
        "delivery_pdf_10k_s": "seconds to build the A4 PDF: 10,000 public names, 44 organisations",
        "delivery_pdf_10k_cpu_s": "CPU seconds (user + system) of building that PDF",
        "delivery_pdf_10k_mb": "peak RSS (MB) of the process building that PDF",
        "delivery_pdf_10k_mb_before": "RSS (MB) of that process before it began (Django loaded)",
        "delivery_pdf_10k_pages": "pages in that PDF",
        "delivery_freeze_10k_s": "seconds to freeze the delivery (names copied, checkpoint signed)",
    },
)
def delivery_pdf(b: Bench) -> dict:
    return delivery_bench.measure(b.env)
