"""The benchmark's report and the documents generated from it (short sections only; CI runs --quick)."""

from devtools.bench import run_bench
from devtools.perfdocs import write_performance_docs


def test_bench_sections_report_rows_and_write_the_docs(tmp_path):
    report = run_bench(quick=True, only=["metrics", "encode", "codegen"], progress=lambda s: None)
    data = report.as_dict()
    assert data["sections"]["metrics"]["record_ns_median"] > 0
    names = {r["name"] for r in data["comparisons"]}
    assert "encode one 20 ms audio message" in names and "HTTP requests for 50 concurrent reads of one run" in names
    coalescing = next(r for r in data["comparisons"] if r["name"].startswith("HTTP requests for 50"))
    assert coalescing["baseline"] == 50 and coalescing["optimized"] == 1
    paths = write_performance_docs(data, tmp_path)
    perf = (tmp_path / "performance.md").read_text()
    guide = (tmp_path / "optimization-guide.md").read_text()
    assert "| encode one 20 ms audio message |" in perf and data["date"] in perf
    assert "Single-flight coalescing" in guide and "**50.00x**" in guide
    assert all(p.exists() for p in paths)


def test_a_failing_section_is_reported_not_fatal(monkeypatch):
    import devtools.bench as bench

    def broken(report):
        raise RuntimeError("boom")

    monkeypatch.setattr(bench, "SECTIONS", [("broken", broken), ("metrics", bench.bench_metric_record)])
    data = bench.run_bench(quick=True, progress=lambda s: None).as_dict()
    assert data["sections"]["broken"] == {"error": "RuntimeError: boom"}
    assert "record_ns_median" in data["sections"]["metrics"]
