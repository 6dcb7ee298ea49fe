"""The raw torch networks lipdub runs (no file or network I/O here).

* :mod:`lipdub.models.wav2lip`: the Wav2Lip generator (:class:`~lipdub.models.wav2lip.Wav2Lip`).
* :mod:`lipdub.models.syncnet`: Wav2Lip's SyncNet lip-sync expert, to score sync.
* :mod:`lipdub.models.s3fd`: the S3FD face detector.

Each module's ``state_dict()`` has exactly the keys and shapes of the published
checkpoints (after removing their ``module.`` prefix), so those load with
``strict=True``. Loading, downloading and checking files is :mod:`lipdub.hub`'s job.
This package imports nothing heavy itself; importing a submodule imports torch.
"""
