"""Where a number came from: the machine record names the CPU model, also for records written before it did."""

from __future__ import annotations

from common.provenance import cpu_model, machine, machine_description, recorded_cpu_model


def test_machine_record_names_the_cpu_model_its_description_names():
    record = {**machine(), "description": machine_description()}
    assert record["cpu"] == cpu_model() and cpu_model() in record["description"]
    assert recorded_cpu_model(record) == cpu_model()
    older = {key: value for key, value in record.items() if key != "cpu"}
    assert recorded_cpu_model(older) == cpu_model()


def test_reads_the_model_back_from_older_descriptions():
    assert recorded_cpu_model({"host": "vm", "description": "vm AMD EPYC, 2 cores, load average 2.2"}) == "AMD EPYC"
    assert recorded_cpu_model({"description": "box Intel(R) Xeon(R) CPU @ 2.20GHz, 8 cores"}) == \
        "box Intel(R) Xeon(R) CPU @ 2.20GHz"
    assert recorded_cpu_model({"host": "vm", "description": "test machine"}) is None
    assert recorded_cpu_model({}) is None


def test_the_cpu_model_names_its_generation_and_vector_unit(tmp_path):
    """VMs name CPUs of different generations alike ("AMD EPYC"); family, model and vector unit tell them apart."""
    block = ("processor\t: {n}\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: {model}\n"
             "model name\t: AMD EPYC\nflags\t\t: {flags}\n")
    info = tmp_path / "cpuinfo"
    info.write_text(block.format(n=0, model=17, flags="fpu sse2 avx avx2 avx512f avx512bw") + "\n"
                    + block.format(n=1, model=1, flags="fpu sse2"))
    assert cpu_model(info) == "AMD EPYC (family 25, model 17, avx512)"
    info.write_text(block.format(n=0, model=49, flags="fpu sse2 avx avx2"))
    assert cpu_model(info) == "AMD EPYC (family 25, model 49, avx2)"
    info.write_text("processor\t: 0\nmodel name\t: Some CPU\n")
    assert cpu_model(info) == "Some CPU"
    assert cpu_model(tmp_path / "missing")  # no /proc/cpuinfo: what platform knows
