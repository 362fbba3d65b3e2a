"""The registered datasets.

Facts come from ``shared/reference/data-formats.md`` and ``offline-models-data.md`` and from
the files themselves. What was not verified here is said so in the spec.

Hashes:

* ``source="package"`` files are pinned to the sha256 of the real files, computed here from the
  installed distributions and checked against the same members inside the wheels (nitime
  0.12.1, brainspace 0.3.0), whose own sha256 is pinned too.
* Files of remote datasets are **unpinned** (``sha256=None``): we had no access to the
  originals, and hashes are never invented. They are verified by trust on first use (see
  :mod:`brainalign.datasets._registry`). Only small index files are registered for remote
  datasets; the bulk of the data is obtained as ``access`` says.
"""

from __future__ import annotations

from brainalign.datasets._registry import DatasetSpec, FileSpec, PackageSpec, register_dataset

__all__: list[str] = []

_OPENNEURO_S3 = "https://s3.amazonaws.com/openneuro.org"
_NSD_S3 = "https://natural-scenes-dataset.s3.amazonaws.com"
_OPENNEURO_ACCESS = (
    "Public on OpenNeuro under CC0. brainalign fetches only the small index files listed here "
    "(latest snapshot, unpinned: hashes recorded on first use); get the data itself with "
    "`openneuro-py`, DataLad, or `aws s3 sync --no-sign-request s3://openneuro.org/{acc} DIR`."
)


def _openneuro_file(accession: str, path: str, description: str) -> FileSpec:
    return FileSpec(path=path, url=f"{_OPENNEURO_S3}/{accession}/{path}", description=description)


# ----------------------------------------------------------------- data inside packages


@register_dataset
def _nitime_mt_fmri() -> DatasetSpec:
    return DatasetSpec(
        name="nitime-mt-fmri",
        modality="fmri",
        source="package",
        reader="brainalign.io.read_nitime_event_related",
        licence="BSD-3-Clause",
        citation=(
            "Rokem A, Trumpis M, Pérez F (2009). Nitime: time-series analysis for neuroimaging "
            "data. Proceedings of the 8th Python in Science Conference (SciPy 2009)."
        ),
        description=(
            "Real event-related fMRI shipped with nitime: the BOLD signal (% signal change) of "
            "motion-sensitive voxels near MT while a subject viewed motion stimuli. 3360 samples "
            "at TR 2 s; column `events` codes 6 motion conditions (1-6, 96 trials each) and "
            "0 for none. Stimulus-locked: the embedded real-data anchor for HRF/FIR estimation, "
            "condition encoding and decoding. The experiment that recorded it is not "
            "documented in the package, so cite nitime."
        ),
        size="85 KB",
        layout=("event_related_fmri.csv",),
        files=(
            FileSpec(
                path="event_related_fmri.csv",
                member="nitime/data/event_related_fmri.csv",
                sha256="f0517820de8a8c8e94373f4c4186ea347e0fcbc7000f94a332534ed646dbe07b",
                size=85054,
                description="CSV with columns `bold` and `events`, one row per TR (2 s).",
            ),
        ),
        package=PackageSpec(
            requirement="nitime==0.12.1",
            wheels=(
                FileSpec(
                    path=(
                        "nitime-0.12.1-cp311-abi3-manylinux1_x86_64.manylinux_2_28_x86_64."
                        "manylinux_2_5_x86_64.whl"
                    ),
                    sha256="19442111829b94fa9aa9849bdfb6aa92bc5467ba74194b18450728e432086882",
                    size=4136941,
                ),
            ),
        ),
        homepage="https://nipy.org/nitime",
        access=(
            "Ships inside the nitime distribution (a core dependency); copied from the "
            "installed package, else extracted from the wheel. Only the Linux x86_64 CPython "
            "wheel is pinned; other wheels are accepted when the extracted file matches."
        ),
        version="0.12.1",
    )


@register_dataset
def _brainspace_rest_fsaverage5() -> DatasetSpec:
    stem = "sub-010188_ses-02_task-rest_acq-AP_run-01"
    member = "brainspace/datasets/preprocessing/"
    return DatasetSpec(
        name="brainspace-rest-fsaverage5",
        modality="fmri",
        source="package",
        reader="brainalign.io.read_brainspace_rest",
        licence="BSD-3-Clause",
        citation=(
            "Vos de Wael R, Benkarim O, Paquola C, et al. (2020). BrainSpace: a toolbox for the "
            "analysis of macroscale gradients in neuroimaging and connectomics datasets. "
            "Communications Biology 3:103."
        ),
        description=(
            "Real resting-state fMRI run shipped with brainspace, already preprocessed and "
            "projected on fsaverage5: 10242 vertices x 652 TRs per hemisphere (float32 MGZ, "
            "mean 0), plus 652 x 29 confounds. No stimulus. The MGZ header TR reads 1000 ms "
            "and should not be relied on. Used as real noise under simulated signal. The "
            "subject id format suggests the MPI-Leipzig Mind-Brain-Body data; not verified."
        ),
        size="46 MB",
        layout=(
            f"{stem}.fsa5.lh.mgz",
            f"{stem}.fsa5.rh.mgz",
            f"{stem}_confounds.txt",
        ),
        files=(
            FileSpec(
                path=f"{stem}.fsa5.lh.mgz",
                member=f"{member}{stem}.fsa5.lh.mgz",
                sha256="8e1a7ceb56b7f9fc5b5c2de2db5c7f978a3b1d6c86e3b7eb251b3c262bbfaafc",
                size=22889894,
                description="Left hemisphere, (10242, 1, 1, 652) float32.",
            ),
            FileSpec(
                path=f"{stem}.fsa5.rh.mgz",
                member=f"{member}{stem}.fsa5.rh.mgz",
                sha256="896b76a739beebf19d6da5190169519c02bd82cc2ff71d9adcfa28a118747d10",
                size=22912560,
                description="Right hemisphere, (10242, 1, 1, 652) float32.",
            ),
            FileSpec(
                path=f"{stem}_confounds.txt",
                member=f"{member}{stem}_confounds.txt",
                sha256="d94687049887a352d073887e8ccd0c580ddd3f2350df5c9d960c8dfc2278d858",
                size=252079,
                description="652 x 29 confound regressors, whitespace-separated text.",
            ),
        ),
        package=PackageSpec(
            requirement="brainspace==0.3.0",
            wheels=(
                FileSpec(
                    path="brainspace-0.3.0-py3-none-any.whl",
                    sha256="aec3854a9ad2ed8f05ee4da04943307833135320c990688ba7f16def1ce0132c",
                    size=60726020,
                ),
            ),
        ),
        homepage="https://brainspace.readthedocs.io",
        access=(
            "Ships inside the brainspace distribution (install it with --no-deps: it depends "
            "on vtk). Copied from the installed package without importing it, else extracted "
            "from the 61 MB wheel."
        ),
        version="0.3.0",
    )


# ----------------------------------------------------------------------- visual fMRI


@register_dataset
def _nsd() -> DatasetSpec:
    return DatasetSpec(
        name="nsd",
        modality="fmri",
        source=f"{_NSD_S3}/",
        reader="brainalign.io.read_nsd",
        licence="NSD Terms and Conditions",
        citation=(
            "Allen EJ, St-Yves G, Wu Y, et al. (2022). A massive 7T fMRI dataset to bridge "
            "cognitive neuroscience and artificial intelligence. Nature Neuroscience 25:116-126."
        ),
        description=(
            "Natural Scenes Dataset: 7T fMRI of 8 subjects viewing COCO natural scenes, 30-40 "
            "sessions of 750 trials each; 1000 images shared across subjects. Single-trial "
            "betas (betas_fithrf_GLMdenoise_RR, int16 = % signal change x 300) in func1pt8mm, "
            "func1mm and fsaverage spaces, ROIs, and the 73k stimulus brick."
        ),
        size="not measured here (TB scale in full)",
        layout=(
            "nsddata/experiments/nsd/nsd_expdesign.mat",
            "nsddata/experiments/nsd/nsd_stim_info_merged.csv",
            "nsddata/ppdata/subjXX/func1pt8mm/roi/nsdgeneral.nii.gz",
            "nsddata_betas/ppdata/subjXX/func1pt8mm/betas_fithrf_GLMdenoise_RR/"
            "betas_sessionNN.{nii.gz,hdf5}",
            "nsddata_betas/ppdata/subjXX/fsaverage/betas_fithrf_GLMdenoise_RR/"
            "{lh,rh}.betas_sessionNN.mgh",
            "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5",
        ),
        files=(
            FileSpec(
                path="nsddata/experiments/nsd/nsd_expdesign.mat",
                url=f"{_NSD_S3}/nsddata/experiments/nsd/nsd_expdesign.mat",
                description="Trial order: masterordering, subjectim, sharedix (MATLAB v5).",
            ),
            FileSpec(
                path="nsddata/experiments/nsd/nsd_stim_info_merged.csv",
                url=f"{_NSD_S3}/nsddata/experiments/nsd/nsd_stim_info_merged.csv",
                description="One row per 73k image: nsdId, cocoId, cocoSplit, shared1000, ...",
            ),
        ),
        homepage="https://naturalscenesdataset.org",
        access=(
            "Accept the NSD Terms and Conditions (naturalscenesdataset.org) before use. The "
            "bucket s3://natural-scenes-dataset allows anonymous reads; brainalign fetches the "
            "two experiment-design files listed here (unpinned: hashes recorded on first use). "
            "Get betas, ROIs and stimuli with `aws s3 cp --no-sign-request` into the same "
            "layout."
        ),
    )


@register_dataset
def _algonauts2023() -> DatasetSpec:
    return DatasetSpec(
        name="algonauts2023",
        modality="fmri",
        source="http://algonauts.csail.mit.edu/",
        reader="brainalign.io.read_algonauts2023",
        licence="NSD Terms and Conditions (derived data)",
        citation=(
            "Gifford AT, Lahner B, Saba-Sadiya S, et al. (2023). The Algonauts Project 2023 "
            "Challenge: How the Human Brain Makes Sense of Natural Scenes. arXiv:2301.03198."
        ),
        description=(
            "Algonauts 2023 challenge data derived from NSD: per subject, z-scored and "
            "repetition-averaged betas on the fsaverage 'challenge' vertices (nsdgeneral + "
            "RSC), one row per image (9841/9841/9082/8779/9841/9082/9841/8779 images), the "
            "training and test images, and ROI masks."
        ),
        size="not measured here",
        layout=(
            "subjXX/training_split/training_fmri/{lh,rh}_training_fmri.npy",
            "subjXX/training_split/training_images/train-NNNN_nsd-NNNNN.png",
            "subjXX/test_split/test_images/test-NNNN_nsd-NNNNN.png",
            "subjXX/roi_masks/{lh,rh}.all-vertices_fsaverage_space.npy",
        ),
        homepage="http://algonauts.csail.mit.edu/",
        access=(
            "Distributed by the Algonauts team after accepting the NSD terms (a form on the "
            "challenge site). Not downloadable by brainalign: put the subjXX folders in the "
            "dataset folder."
        ),
    )


@register_dataset
def _algonauts2025() -> DatasetSpec:
    return DatasetSpec(
        name="algonauts2025",
        modality="fmri",
        source="https://github.com/courtois-neuromod/algonauts_2025.competitors",
        reader="brainalign.io.read_algonauts2025",
        licence="CNeuroMod terms (not verified here)",
        citation=(
            "Gifford AT, Bersch D, St-Laurent M, et al. (2025). The Algonauts Project 2025 "
            "Challenge: How the Human Brain Makes Sense of Multimodal Movies. arXiv:2501.00504."
        ),
        description=(
            "Algonauts 2025 (Courtois NeuroMod): fMRI of subjects 1, 2, 3 and 5 watching "
            "Friends seasons 1-7 and Movie10, TR 1.49 s, as Schaefer-2018 1000-parcel time "
            "series in MNI152NLin2009cAsym (one HDF5 dataset per run), with the movies (.mkv) "
            "and per-TR transcripts. Friends s7 and the OOD movies are test sets."
        ),
        size="not measured here",
        layout=(
            "fmri/sub-0X/func/sub-0X_task-friends_space-MNI152NLin2009cAsym_atlas-Schaefer18_"
            "parcel-1000Par7Net_desc-s123456_bold.h5",
            "fmri/sub-0X/func/sub-0X_task-movie10_space-MNI152NLin2009cAsym_atlas-Schaefer18_"
            "parcel-1000Par7Net_bold.h5",
            "fmri/sub-0X/atlas/sub-0X_space-MNI152NLin2009cAsym_atlas-Schaefer18_"
            "parcel-1000Par7Net_desc-dseg_parcellation.nii.gz",
            "stimuli/movies/friends/sN/friends_s0Ne0Mc.mkv",
            "stimuli/transcripts/friends/sN/friends_s0Ne0Mc.tsv",
        ),
        homepage="https://algonautsproject.com/",
        access=(
            "A DataLad dataset (courtois-neuromod/algonauts_2025.competitors) whose annexed "
            "files need the access granted to challenge participants. Not downloadable by "
            "brainalign: `datalad get` it into the dataset folder."
        ),
    )


# ------------------------------------------------------------------- language fMRI


@register_dataset
def _lebel2023() -> DatasetSpec:
    acc = "ds003020"
    return DatasetSpec(
        name="lebel2023",
        modality="fmri",
        source=f"openneuro:{acc}",
        reader="brainalign.io.read_lebel",
        licence="CC0-1.0",
        citation=(
            "LeBel A, Wagner L, Jain S, et al. (2023). A natural language fMRI dataset for "
            "voxelwise encoding models. Scientific Data 10:555."
        ),
        description=(
            "Narrative listening fMRI (Huth lab): 8 subjects (UTS01-UTS08), up to 84 spoken stories each "
            "(UTS01-03), TR 2 s; preprocessed responses per story (HDF5 `data`, trimmed [10:-5] "
            "TRs), TextGrid word and phone timings, and respdict.json TR counts."
        ),
        size="not measured here",
        layout=(
            "sub-UTS0X/ses-N/func/sub-UTS0X_ses-N_task-<story>_bold.nii.gz",
            "derivative/preprocessed_data/UTS0X/<story>.hf5",
            "derivative/TextGrids/<story>.TextGrid",
            "derivative/respdict.json",
        ),
        files=(
            _openneuro_file(acc, "dataset_description.json", "BIDS dataset description."),
            _openneuro_file(acc, "derivative/respdict.json", "{story: n_TR_raw}."),
        ),
        homepage=f"https://openneuro.org/datasets/{acc}",
        access=_OPENNEURO_ACCESS.format(acc=acc),
    )


@register_dataset
def _narratives() -> DatasetSpec:
    acc = "ds002345"
    return DatasetSpec(
        name="narratives",
        modality="fmri",
        source=f"openneuro:{acc}",
        reader="brainalign.io.read_fmriprep",
        licence="CC0-1.0",
        citation=(
            "Nastase SA, Liu Y-F, Hillman H, et al. (2021). The 'Narratives' fMRI dataset for "
            "evaluating models of naturalistic language comprehension. Scientific Data 8:250."
        ),
        description=(
            "Narratives: 345 subjects, 891 scans, 27 spoken stories (~4.6 h), TR 1.5 s; raw "
            "BIDS plus fMRIPrep (volume and fsaverage6) and AFNI-denoised derivatives, story "
            "audio and Gentle word alignments."
        ),
        size="not measured here",
        layout=(
            "sub-XXX/func/sub-XXX_task-<task>_events.tsv",
            "derivatives/fmriprep/sub-XXX/func/sub-XXX_task-<task>_space-MNI152NLin2009cAsym_"
            "res-native_desc-preproc_bold.nii.gz",
            "stimuli/<task>_audio.wav",
            "stimuli/gentle/<task>/align.json",
        ),
        files=(_openneuro_file(acc, "dataset_description.json", "BIDS dataset description."),),
        homepage=f"https://openneuro.org/datasets/{acc}",
        access=_OPENNEURO_ACCESS.format(acc=acc),
    )


@register_dataset
def _smn4lang() -> DatasetSpec:
    acc = "ds004078"
    return DatasetSpec(
        name="smn4lang",
        modality="fmri+meg",
        source=f"openneuro:{acc}",
        reader="brainalign.io.read_bids_func",
        licence="CC0-1.0",
        citation=(
            "Wang S, Zhang X, Zhang J, Zong C (2022). A synchronized multimodal neuroimaging "
            "dataset for studying brain language processing. Scientific Data 9:590."
        ),
        description=(
            "SMN4Lang: 12 Mandarin speakers heard 60 stories (~6 h) in both fMRI (TR 0.71 s, "
            "2 mm) and MEG (Elekta, 306 channels, 1000 Hz); BIDS task RDR, runs 1-60 = story. "
            "Word/char timings already include the +10.65 s offset of the fMRI clock; BERT, GPT "
            "and word2vec embeddings and syntactic annotations are included."
        ),
        size="not measured here",
        layout=(
            "sub-XX/func/sub-XX_task-RDR_run-N_bold.nii.gz",
            "derivatives/preprocessed_data/sub-XX/MNI/sub-XX_task-RDR_run-N_bold.nii.gz",
            "derivatives/annotations/time_align/word-level/story_N_word_time.mat",
        ),
        files=(
            _openneuro_file(acc, "dataset_description.json", "BIDS dataset description."),
            _openneuro_file(acc, "README", "Dataset README."),
        ),
        homepage=f"https://openneuro.org/datasets/{acc}",
        access=_OPENNEURO_ACCESS.format(acc=acc),
    )


# -------------------------------------------------------------------- MEG / EEG / iEEG


@register_dataset
def _meg_masc() -> DatasetSpec:
    return DatasetSpec(
        name="meg-masc",
        modality="meg",
        source="osf:ag3kj",
        reader="brainalign.io.read_bids_meeg",
        licence="not verified here (see OSF ag3kj)",
        citation=(
            "Gwilliams L, Flick G, Marantz A, Pylkkänen L, Poeppel D, King J-R (2023). "
            "Introducing MEG-MASC a high-quality magneto-encephalography dataset for evaluating "
            "natural speech processing. Scientific Data. doi:10.1038/s41597-023-02752-5."
        ),
        description=(
            "MEG-MASC: 27 English speakers x 2 sessions x 4 stories of the MASC corpus, KIT "
            "MEG, in BIDS. Events are Python dict literals with word and phoneme annotations on "
            "the MEG clock."
        ),
        size="not measured here",
        layout=(
            "sub-XX/ses-N/meg/sub-XX_ses-N_task-N_meg.con",
            "sub-XX/ses-N/meg/sub-XX_ses-N_task-N_events.tsv",
        ),
        homepage="https://osf.io/ag3kj/",
        access=(
            "Open on OSF (project ag3kj, split over several components; merge them into one "
            "BIDS folder). Not downloadable by brainalign: download it into the dataset folder."
        ),
    )


@register_dataset
def _things_eeg2() -> DatasetSpec:
    return DatasetSpec(
        name="things-eeg2",
        modality="eeg",
        source="osf:3jk45",
        reader="brainalign.io.read_things_eeg2",
        licence="not verified here (see OSF 3jk45)",
        citation=(
            "Gifford AT, Dwivedi K, Roig G, Cichy RM (2022). A large and rich EEG dataset for "
            "modeling human visual object recognition. NeuroImage 264:119754."
        ),
        description=(
            "THINGS-EEG2: 10 subjects viewing THINGS images in RSVP. Training: 1654 concepts x "
            "10 images x 4 repetitions; test: 200 images x 80 repetitions. Raw 1000 Hz EEG and "
            "preprocessed epochs (17 occipital/parietal channels, 100 Hz, -0.2 to 0.8 s)."
        ),
        size="not measured here",
        layout=(
            "eeg_dataset/raw_data/sub-XX/ses-YY/raw_eeg_{training,test}.npy",
            "eeg_dataset/preprocessed_data/sub-XX/preprocessed_eeg_{training,test}.npy",
            "image_set/{training_images,test_images}/<NNNNN_concept>/<concept_xx>.jpg",
        ),
        homepage="https://osf.io/3jk45/",
        access=(
            "On OSF (project 3jk45; the OSF id is from public code, not from the reference "
            "notes). Not downloadable by brainalign: download it into the dataset folder."
        ),
    )


@register_dataset
def _things_meg() -> DatasetSpec:
    acc = "ds004212"
    return DatasetSpec(
        name="things-meg",
        modality="meg",
        source=f"openneuro:{acc}",
        reader="brainalign.io.read_things_meg",
        licence="CC0-1.0",
        citation=(
            "Hebart MN, Contier O, Teichmann L, et al. (2023). THINGS-data, a multimodal "
            "collection of large-scale datasets for investigating object representations in "
            "human brain and behavior. eLife 12:e82580."
        ),
        description=(
            "THINGS-MEG: 4 participants x 12 sessions viewing THINGS object images, CTF MEG at "
            "1200 Hz, with photodiode-corrected events; preprocessed epochs (-100 to 1300 ms, "
            "200 Hz) per participant with trial metadata (exp / test / catch)."
        ),
        size="not measured here",
        layout=(
            "sub-*/ses-*/meg/*_meg.ds",
            "derivatives/preprocessed/preprocessed_PN-epo.fif",
        ),
        files=(_openneuro_file(acc, "dataset_description.json", "BIDS dataset description."),),
        homepage=f"https://openneuro.org/datasets/{acc}",
        access=_OPENNEURO_ACCESS.format(acc=acc),
    )


@register_dataset
def _brain_treebank() -> DatasetSpec:
    return DatasetSpec(
        name="brain-treebank",
        modality="ieeg",
        source="https://braintreebank.dev/",
        reader="brainalign.io.read_brain_treebank",
        licence="not verified here (see braintreebank.dev)",
        citation=(
            "Wang C, Yaari AU, Singh AK, et al. (2024). Brain Treebank: Large-scale intracranial "
            "recordings from naturalistic language stimuli. Advances in Neural Information "
            "Processing Systems 37 (Datasets and Benchmarks). arXiv:2411.08343."
        ),
        description=(
            "Brain Treebank: stereo-EEG of 10 subjects watching Hollywood movies, 2048 Hz, one "
            "HDF5 per subject and trial (movie), with electrode labels and localisations, "
            "trigger timings, and word-level transcript features (POS, parses, surprisal, "
            "acoustic and visual features)."
        ),
        size="not measured here",
        layout=(
            "all_subject_data/sub_S_trialNNN.h5",
            "electrode_labels/sub_S/electrode_labels.json",
            "localization/sub_S/depth-wm.csv",
            "subject_metadata/sub_S_trialNNN_metadata.json",
            "subject_timings/sub_S_trialNNN_timings.csv",
            "transcripts/<movie>/features.csv",
        ),
        homepage="https://braintreebank.dev/",
        access=(
            "Download the archives from braintreebank.dev and extract them into the dataset "
            "folder. Not downloadable by brainalign (file URLs and hashes not verified here)."
        ),
    )


@register_dataset
def _zuco() -> DatasetSpec:
    return DatasetSpec(
        name="zuco",
        modality="eeg+eyetracking",
        source="osf:q3zws",
        reader=None,
        licence="not verified here (see OSF q3zws)",
        citation=(
            "Hollenstein N, Rotsztejn J, Troendle M, Pedroni A, Zhang C, Langer N (2018). ZuCo, "
            "a simultaneous EEG and eye-tracking resource for natural sentence reading. "
            "Scientific Data 5:180291."
        ),
        description=(
            "ZuCo 1.0: EEG and eye tracking during natural reading (tasks SR, NR, TSR), "
            "fixation-locked word-level band-power features (FFD, TRT, GD x 8 bands) and raw "
            "EEG per fixation, in MATLAB v5 files. No brainalign reader yet."
        ),
        size="not measured here",
        layout=("**/results<SUBJ>_<TASK>.mat",),
        homepage="https://osf.io/q3zws/",
        access="On OSF (project q3zws). Not downloadable by brainalign.",
    )


@register_dataset
def _zuco2() -> DatasetSpec:
    return DatasetSpec(
        name="zuco2",
        modality="eeg+eyetracking",
        source="osf:2urht",
        reader=None,
        licence="not verified here (see OSF 2urht)",
        citation=(
            "Hollenstein N, Troendle M, Zhang C, Langer N (2020). ZuCo 2.0: A Dataset of "
            "Physiological Recordings During Natural Reading and Annotation. Proceedings of "
            "LREC 2020."
        ),
        description=(
            "ZuCo 2.0: EEG and eye tracking during natural reading (NR) and task-specific "
            "reading (TSR), word-level features in MATLAB v7.3 (HDF5 with object references). "
            "No brainalign reader yet."
        ),
        size="not measured here",
        layout=("**/results<SUBJ>_<TASK>.mat",),
        homepage="https://osf.io/2urht/",
        access="On OSF (project 2urht). Not downloadable by brainalign.",
    )
