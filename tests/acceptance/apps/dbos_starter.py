# The DBOS "launch()" seed program from the DBOS docs, with `from dbos import` changed to
# `from dbos_workers import`. No database URL: it runs on the embedded Postgres under ./.dbos.
from dbos_workers import DBOS

DBOS(config={"name": "dbos-starter"})


@DBOS.step()
def step_one() -> None:
    print("Step one completed!")


@DBOS.step()
def step_two() -> None:
    print("Step two completed!")


@DBOS.workflow()
def dbos_workflow() -> None:
    step_one()
    step_two()


if __name__ == "__main__":
    DBOS.launch()
    dbos_workflow()
