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
