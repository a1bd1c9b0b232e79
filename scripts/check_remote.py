"""After a `dvc push` that broke off: find the objects it left truncated on the remote, and upload them whole.

    python -m scripts.check_remote                 # the default remote: say what is wrong, exit 1 if anything is
    dvc push -r webdav && python -m scripts.check_remote -r webdav --repair

Each object of this clone's DVC cache is compared with the remote's copy by size (no download);
``--repair`` uploads the wrong ones again from the cache (:mod:`distillation.experiments.remote`). Run
``dvc push`` too: what the broken push never reached, it uploads; what it left truncated, it skips.
"""
from __future__ import annotations

import argparse

from distillation.cli import run_stage
from distillation.experiments.remote import truncated_objects, upload_again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--remote", help="the DVC remote (default: the project's default remote)")
    parser.add_argument("--repair", action="store_true", help="upload the truncated objects again, whole")
    arguments = parser.parse_args()
    from dvc.repo import Repo

    shown = arguments.remote or "the default remote"
    with Repo() as repo:
        try:
            wrong = truncated_objects(repo, arguments.remote)
        except Exception as error:  # DVC's own errors: no remote, unreachable, bad config
            raise ValueError(f"{shown}: cannot check the remote ({str(error).strip().splitlines()[0]})") from None
        if not wrong:
            print(f"{shown}: every object this clone has is whole there")
            return
        if not arguments.repair:
            raise ValueError(f"{shown}: {len(wrong)} objects are truncated there (a push broke off); run "
                             f"`python -m scripts.check_remote{' -r ' + arguments.remote if arguments.remote else ''} --repair` "
                             "to upload them again")
        upload_again(repo, arguments.remote, wrong)
        print(f"{shown}: uploaded {len(wrong)} truncated objects again, whole")


if __name__ == "__main__":
    run_stage(main)
