"""Chapter 4 rows of the Reproductions page (see :mod:`kvlib.reproductions.registry`)."""


# --- MESH, Vector-HaSH, TEM ---
# Source values are the results committed in FieteLab/MESH (pickles read with Python; figures
# read off where the pickle is not in the stored copy of the repository), the outputs saved in
# FieteLab/VectorHaSH's Fig 3 notebook (read off its figures), and TEM's analysis code
# (jbakermans/torch_tem, analyse.py) for what zero-shot inference means.
from kvlib.reproductions.registry import approx as _approx
from kvlib.reproductions.registry import at_least as _at_least
from kvlib.reproductions.registry import at_most as _at_most
from kvlib.reproductions.registry import equals as _equals
from kvlib.reproductions.registry import experiment as _experiment
from kvlib.reproductions.registry import row as _row

MESH_REPO = "https://github.com/FieteLab/MESH/blob/master"
VH_REPO = "https://github.com/FieteLab/VectorHaSH/blob/main"
TEM_REPO = "https://github.com/jbakermans/torch_tem/blob/main"
MESH_SRC = "Sharma, Chandra & Fiete 2022 (committed results)"
VH_SRC = "Chandra, Sharma, Chaudhuri & Fiete 2025 (saved notebook output)"
_MESH_400 = "MESH_results/18C3/sensory_model_Ng=18_Ns=400_pflip=0%_runs=20_M=3_Niter1_sparsity=3.pkl"
_MESH_816_MI = "continuum_results/MESH/MESH_MI_noise=0.png"
_MESH_816_NOISY = ("continuum_results/sensory_model_Ng=18_Ns=816_pflip=5%_runs=20_M=3_Niter1_sparsity=3"
                   ".pkl_cleanup error=0.01.svg")
_MESH_SCAFFOLD = ("memscaffold_results/Ng=18/"
                  "assoc_capapcity_randmsparseNCK_gc=18_m=3_pflip=0.2%_runs=20_Niter1.pkl")

#: MESH's committed numbers (N_H = 300, 18 choose 3, clean cues, 20 runs): feature error and
#: MI per bit at P stored patterns. N_s = 400 from its pickle; N_s = 816 read off its figure.
MESH_COMMITTED = {
    "400": {"feature_error": {350: 0.0080, 400: 0.0422, 500: 0.1107, 600: 0.1713, 700: 0.2431,
                              816: 0.3172},
            "mutual_information": {350: 0.9328, 400: 0.7476, 500: 0.4980, 600: 0.3393, 700: 0.1998,
                                   816: 0.0987}},
    "816": {"mutual_information": {350: 0.931, 400: 0.747, 500: 0.497, 600: 0.367, 700: 0.291,
                                   816: 0.2335}},
}
#: MESH with 5 % of cue bits flipped (N_s = 816, N_H = 300): capacity at ≤ 1 % error, i.e. the
#: index of the last load that meets it (their ``process_data``), mean of 20 runs.
MESH_NOISY_CAPACITY = {"label": 546.5, "hidden": 558.0, "feature": 352.6, "feature_cleaned": 536.1}
#: MESH's scaffold alone (its Fig 3): error left after one pass from hidden states with 20 % of
#: signs flipped, relative to the injected error, all 816 states stored, mean of 20 runs.
MESH_SCAFFOLD_ERROR = {200: 0.0630, 300: 0.0083, 400: 0.0007}
#: MESH's baselines (N = 708, one run each): MI per bit at P stored patterns.
MESH_BASELINES = {
    "hopfield": {60: 0.9949, 150: 0.1191, 300: 0.0725, 815: 0.0490},                 # clean cues
    "pinv-hopfield-noisy": {300: 1.0, 400: 0.7732, 500: 0.0},                          # 5 % cue flips
    "pinv-hopfield-clean": {700: 1.0, 708: 0.0},
    "bounded-hopfield": {40: 1.0, 60: 0.5973, 200: 0.0342, 815: 0.0056},               # bound 0.3
}
#: Vector-HaSH, Fig 3 notebook (N_h = 400, N_s = 3600, clean cues, one run): MI per input bit,
#: read off the saved figure; and its basin test at 600 patterns: p(correct) against the
#: fraction of cue bits flipped, read off the saved figure.
VH_COMMITTED = {"mutual_information": {401: 1.0, 601: 0.602, 1001: 0.263, 2001: 0.108},
                "basin_600": {0.2: 0.957, 0.3: 0.693}}


def _crossing(Ps, errs, level=0.01):
    """Interpolated load where an increasing error curve first exceeds ``level``."""
    for (p0, e0), (p1, e1) in zip(zip(Ps, errs), zip(Ps[1:], errs[1:])):
        if e0 <= level < e1:
            return p0 + (level - e0) * (p1 - p0) / (e1 - e0)
    return float("nan")


@_experiment("mesh-committed")
def _mesh_committed(device) -> dict:
    import torch

    from kvlib import scaffold as sf
    from kvlib import scaffold_capacity as sc
    out = {}
    clean = sc.mesh_capacity(n_patterns=(350, 400, 500, 600, 700, 816), n_sensory=(400, 816),
                             n_runs=1, device=device)
    for ns in ("400", "816"):
        rows = zip(clean["n_patterns"], clean["feature_error"][ns], clean["mutual_information"][ns])
        for P, fe, mi in rows:
            out[f"fe_{ns}_{P}"], out[f"mi_{ns}_{P}"] = fe, mi
    noisy = sc.mesh_capacity(n_patterns=(340, 350, 360, 530, 550, 570), n_sensory=(816,),
                             n_runs=2, cue_flip=0.05, device=device)
    Ps = noisy["n_patterns"]
    # MESH reports the index (from 0) of the last load meeting the threshold: one less than the load
    out["cap_feature_noisy"] = _crossing(Ps, noisy["feature_error"]["816"]) - 1
    out["cap_label_noisy"] = _crossing(Ps, noisy["label_error"]["816"]) - 1
    for n_h in MESH_SCAFFOLD_ERROR:
        errs = [sc.scaffold_cleanup_error(
                    sf.mesh(n_h, generator=torch.Generator().manual_seed(s), device=device),
                    generator=torch.Generator().manual_seed(100 + s)) for s in range(3)]
        out[f"scaffold_{n_h}"] = sum(errs) / len(errs)
    return out


@_experiment("mesh-baselines")
def _mesh_baselines(device) -> dict:
    from kvlib import scaffold_capacity as sc
    out = {}
    runs = (("hopfield", "hebbian", 0.0, (60, 150, 300, 815)),
            ("pinv-hopfield-noisy", "pinv", 0.05, (300, 400, 500)),
            ("pinv-hopfield-clean", "pinv", 0.0, (700, 708)),
            ("bounded-hopfield", "bounded", 0.0, (40, 60, 200, 815)))
    for name, rule, flip, Ps in runs:
        res = sc.hopfield_curve(Ps, N=708, rule=rule, cue_flip=flip, n_test=150, seed=1, device=device)
        for P, mi in zip(res["n_patterns"], res["mutual_information"]):
            out[f"{name}_{P}"] = mi
    return out


@_experiment("vh-fig3")
def _vh_fig3(device) -> dict:
    from kvlib import scaffold_capacity as sc
    Ps = sorted(VH_COMMITTED["mutual_information"])[:-1]      # up to 1001 patterns (cost)
    curve = sc.vector_hash_curve(Ps, n_hippocampal=400, seed=0, device=device)
    out = {f"mi_{P}": mi for P, mi in zip(curve["n_patterns"], curve["mutual_information"])}
    basin = sc.basin_curve(600, flips=tuple(VH_COMMITTED["basin_600"]), n_draws=1, device=device)
    for f, p in zip(basin["flip"], basin["p_correct"]):
        out[f"basin_{f}"] = p
    return out


@_experiment("tem-memory")
def _tem_memory(device) -> dict:
    from kvlib import tem
    res = tem.tem_experiment(n_steps=300, n_envs=4, device=device)
    return {f"{k}_{a}": res[k][a] for k in ("zero_shot_total", "revisit_total")
            for a in ("tem", "node", "edge")}


_SW = "kvlib.scaffold_capacity.mesh_capacity(n_sensory=(400, 816))"
for ns, values in (("400", MESH_COMMITTED["400"]["mutual_information"]),
                   ("816", MESH_COMMITTED["816"]["mutual_information"])):
    where = _MESH_400 if ns == "400" else _MESH_816_MI
    for P, v in values.items():
        _row(key=f"mesh-mi-{ns}-{P}", chapter=4,
             quantity=f"MESH: MI per bit, N_s = {ns}, P = {P} (clean cues)",
             source=MESH_SRC, where=where.split("/")[-1], url=f"{MESH_REPO}/{where}".replace("%", "%25"),
             source_value=f"{v}" + ("" if ns == "400" else " (read off the figure)"),
             expect=_approx(v, 0.015 if P <= 500 else 0.02), experiment="mesh-committed",
             field=f"mi_{ns}_{P}",
             note=("One scaffold and one draw of patterns here, 20 scaffolds there; MI of the mean "
                   "error, as mutualinfo.py computes it." if ns == "400" else
                   "The N_s = 816 pickle is not in the stored copy; values read off the committed MI "
                   "figure (±0.005; its last point is P = 815)."),
             switch=_SW)
for P in (400, 816):
    v = MESH_COMMITTED["400"]["feature_error"][P]
    _row(key=f"mesh-fe-400-{P}", chapter=4,
         quantity=f"MESH: feature error, N_s = 400, P = {P} (clean cues)",
         source=MESH_SRC, where=_MESH_400.split("/")[-1],
         url=f"{MESH_REPO}/{_MESH_400}".replace("%", "%25"),
         source_value=f"{v}", expect=_approx(v, 0.004 if P == 400 else 0.012), experiment="mesh-committed",
         field=f"fe_400_{P}", note="Fraction of wrong feature bits over every stored pattern (err_sens).",
         switch=_SW)
for key, field, label, tol in (("feature", "cap_feature_noisy", "features", 10.0),
                               ("label", "cap_label_noisy", "labels", 25.0)):
    v = MESH_NOISY_CAPACITY[key]
    _row(key=f"mesh-noisy-capacity-{key}", chapter=4,
         quantity=f"MESH, 5 % cue flips, N_s = 816: patterns recalled at ≤ 1 % error ({label})",
         source=MESH_SRC, where="capacity figure (svg)",
         url=f"{MESH_REPO}/{_MESH_816_NOISY}".replace("%", "%25"),
         source_value=f"{v} (at N_H = 300, read from the figure's data)", expect=_approx(v, tol),
         experiment="mesh-committed", field=field,
         note="Interpolated crossing of the 1 % level between loads 20 apart; 2 scaffolds here, 20 there.",
         switch="kvlib.scaffold_capacity.mesh_capacity(n_sensory=(816,), cue_flip=0.05)")
for n_h, v in MESH_SCAFFOLD_ERROR.items():
    _row(key=f"mesh-scaffold-{n_h}", chapter=4,
         quantity=f"MESH scaffold: error left after clean-up of 20 %-flipped hidden states, N_H = {n_h}",
         source=MESH_SRC, where=_MESH_SCAFFOLD.split("/")[-1],
         url=f"{MESH_REPO}/{_MESH_SCAFFOLD}".replace("%", "%25"), source_value=f"{v}",
         expect=_at_most(0.003) if n_h == 400 else _approx(v, 0.02 if n_h == 200 else 0.006),
         experiment="mesh-committed", field=f"scaffold_{n_h}",
         note="All 816 states stored; relative error as capacity_gcpc scores it; 3 scaffolds here, 20 there.",
         switch=f"kvlib.scaffold_capacity.scaffold_cleanup_error(kvlib.scaffold.mesh({n_h}))")
_BL = {"hopfield": ("standard Hopfield, clean cues", "continuum_results/std_hopfield/"
                    "stdhopfield__mutualinfo_N=708_noise=0.0_iter=100.pkl", "hebbian", 0.0),
       "pinv-hopfield-noisy": ("pseudoinverse Hopfield, 5 % cue flips", "continuum_results/pinv_hopfield/"
                               "pinvhopfield__mutualinfo_N=708_noise=0.05_iter=100.pkl", "pinv", 0.05),
       "pinv-hopfield-clean": ("pseudoinverse Hopfield, clean cues", "continuum_results/pinv_hopfield/"
                               "pinvhopfield__mutualinfo_N=708_noise=0.0_iter=100.pkl", "pinv", 0.0),
       "bounded-hopfield": ("bounded Hopfield (bound 0.3), clean cues",
                            "continuum_results/bounded_hopfield/"
                            "boundedhopfield__mutualinfo_N=708_noise=0.0_iter=100_bound=0.3.pkl",
                            "bounded", 0.0)}
for name, values in MESH_BASELINES.items():
    label, path, rule, flip = _BL[name]
    for P, v in values.items():
        if v >= 0.99:
            exp = _at_least(0.97)
        elif v <= 0.01:
            exp = _at_most(0.02)
        else:
            exp = _approx(v, 0.15 if 0.3 < v < 0.9 else 0.03)
        _row(key=f"mesh-baseline-{name}-{P}", chapter=4,
             quantity=f"MESH baseline: {label}, N = 708, P = {P}: MI",
             source=MESH_SRC, where=path.split("/")[-1], url=f"{MESH_REPO}/{path}",
             source_value=f"{v} (one run)",
             expect=exp, experiment="mesh-baselines", field=f"{name}_{P}",
             note=("Near the cliff a single run varies by ±0.1; 150 tested patterns here, all there."
                   if 0.3 < v < 0.9 else
                   "MI of the mean overlap after ≤ 100 synchronous steps; 150 tested patterns."),
             switch=f'kvlib.scaffold_capacity.hopfield_curve(..., N=708, rule="{rule}", cue_flip={flip})')
_VH_NB = "Full_model_testing_Fig_3.ipynb"
for P, v in VH_COMMITTED["mutual_information"].items():
    if P > 1001:
        continue
    _row(key=f"vh-mi-{P}", chapter=4,
         quantity=f"Vector-HaSH: MI per input bit, P = {P} (N_h = 400, N_s = 3600, clean)",
         source=VH_SRC, where=_VH_NB, url=f"{VH_REPO}/{_VH_NB}",
         source_value=f"{v} (read off the saved figure)",
         expect=_at_least(0.99) if v >= 0.99 else _approx(v, 0.02), experiment="vh-fig3", field=f"mi_{P}",
         note="One scaffold, both here and there; the digitised value is good to about ±0.005.",
         switch="kvlib.scaffold_capacity.vector_hash_curve(n_hippocampal=400)")
for f, v in VH_COMMITTED["basin_600"].items():
    _row(key=f"vh-basin-{int(100 * f)}", chapter=4,
         quantity=f"Vector-HaSH: recall unchanged by {int(100 * f)} % cue flips, 600 patterns",
         source=VH_SRC, where=_VH_NB, url=f"{VH_REPO}/{_VH_NB}",
         source_value=f"{v} (read off the saved figure)",
         expect=_approx(v, 0.06 if f < 0.25 else 0.1), experiment="vh-fig3", field=f"basin_{f}",
         note="Fraction of patterns whose noisy-cue recall equals the clean-cue recall; one scaffold, "
              "one noise draw of 600 cues here, 100 there.",
         switch="kvlib.scaffold_capacity.basin_curve(600)")
_row(key="tem-zero-shot", chapter=4,
     quantity="TEM's memory step: zero-shot inference (returns by an untaken edge)",
     source="Whittington et al. 2020; analysis as in torch_tem",
     where="analyse.py (zero_shot, compare_to_agents)",
     url=f"{TEM_REPO}/analyse.py", source_value="trained TEM predicts such returns like a node agent (Fig 3)",
     expect=_at_least(0.8), experiment="tem-memory", field="zero_shot_total_tem", setting="the book's",
     note="Hand-coded grid-like g on a 6 × 6 torus (TEM learns g); TEM's Hebbian rule, attractor and "
          "parameters; the edge agent is at chance on these steps by definition.",
     switch="kvlib.tem.tem_experiment()")


# --- Tyulmankov et al. 2021 ---
# Source values: what gyyang/bio-kvm's own code computes at its reference setting, run as
# published (configs.get_config('ref_seq' | 'ref_rand' | 'hopfield', stim_dim=N, hidden_size=N);
# plot_all_figs_helper._get_acc_vs_seqlen with repeat='auto' for Fig 2b, get_capacity(thres=0.98,
# repeat=1) repeated 50 times for Fig 2c). The paper shows these numbers only as plots.
TYULMANKOV = "Tyulmankov, Fang, Vadaparty & Yang 2021 (bio-kvm code, run as published)"
_BIOKVM = "https://github.com/gyyang/bio-kvm"
_FIG2_NB = f"{_BIOKVM}/blob/main/notebooks/plot_all_figs.ipynb"

#: Fig 2b at N = 40: mean bit accuracy after T stored items (bio-kvm, repeat='auto').
BIO_KVM_FIG2B = {
    "sequential": {1: 1.0, 10: 1.0, 21: 0.998, 40: 0.999, 45: 0.957, 50: 0.921, 62: 0.866,
                   105: 0.766, 179: 0.705},
    "random": {1: 0.991, 10: 0.973, 21: 0.895, 40: 0.775, 45: 0.781, 50: 0.75, 62: 0.72,
               105: 0.668, 179: 0.639},
    "hopfield": {1: 1.0, 10: 0.926, 21: 0.85, 40: 0.816, 45: 0.817, 50: 0.81, 62: 0.806,
                 105: 0.786, 179: 0.768},
}
#: Fig 2c: mean 98 % capacity over 50 searches per point (bio-kvm; their number of runs), except
#: the sequential memory at N = 160: 10 searches (their code needs minutes per search there,
#: and the ten agree within one item).
BIO_KVM_FIG2C = {"sequential": {20: 17.2, 40: 41.96, 80: 83.96, 160: 167.4},
                 "random": {20: 5.4, 40: 9.46, 80: 16.08, 160: 31.26},
                 "hopfield": {20: 3.46, 40: 6.66, 80: 12.4, 160: 24.8}}

_FIG2B_ROWS = (("sequential", 40), ("sequential", 45), ("sequential", 179), ("random", 10),
               ("random", 40), ("random", 179), ("hopfield", 10), ("hopfield", 40), ("hopfield", 179))
_FIG2C_ROWS = (("sequential", 20), ("sequential", 40), ("random", 20), ("random", 40), ("random", 80),
               ("hopfield", 20), ("hopfield", 40), ("hopfield", 80))
#: Half-widths: a few standard errors of the difference of two noisy estimates.
_FIG2B_TOL = {"sequential": 0.01, "random": 0.03, "hopfield": 0.02}
_FIG2C_TOL = {"sequential": 2.0, "random": 2.5, "hopfield": 1.0}


@_experiment("tyulmankov-fig2b")
def _tyulmankov_fig2b(device) -> dict:
    """Fig 2b at N = 40, bio-kvm's protocol (their item counts and repeats), and the variants."""
    from kvlib.slot_capacity import MODELS, fig2_curve
    out = {}
    for m in MODELS:
        lengths, acc = fig2_curve(m, 40, device=device)
        out.update({f"{m}_{T}": a for T, a in zip(lengths, acc.tolist())})
    out["hopfield_ahead_at_179"] = out["hopfield_179"] > out["sequential_179"]
    _, hop0 = fig2_curve("hopfield", 40, hopfield_diagonal=False, device=device)
    _, rnd13 = fig2_curve("random", 40, value_rule="eq13", device=device)
    out["hopfield0_179"] = hop0[-1].item()
    out["hopfield0_ahead_at_179"] = out["hopfield0_179"] > out["sequential_179"]
    out["random13_62"] = rnd13[lengths.index(62)].item()
    return out


@_experiment("tyulmankov-fig2c")
def _tyulmankov_fig2c(device) -> dict:
    """Fig 2c: 50 runs of bio-kvm's capacity search per point, and the d/2-slot variant."""
    from kvlib.slot_capacity import capacity_runs
    out = {}
    for m, N in _FIG2C_ROWS:
        runs = capacity_runs(m, N, seeds=range(50), device=device)
        out[f"{m}_{N}"] = sum(runs) / len(runs)
    half = capacity_runs("sequential", 40, seeds=range(50), n_slots="half", device=device)
    out["sequential_half_40"] = sum(half) / len(half)
    return out


for _m, _T in _FIG2B_ROWS:
    _row(key=f"tyulmankov-fig2b-{_m}-{_T}", chapter=4,
        quantity=f"Fig 2b (N = 40): {_m} network, accuracy after {_T} items",
        source=TYULMANKOV, where="Fig 2b, plot_all_figs.ipynb", url=_FIG2_NB,
        source_value=f"{BIO_KVM_FIG2B[_m][_T]:.3f}",
        expect=_approx(BIO_KVM_FIG2B[_m][_T], _FIG2B_TOL[_m]), experiment="tyulmankov-fig2b",
        field=f"{_m}_{_T}",
        note="Same task and networks; the book reads every T off one stream per repeat.",
        switch="kvlib.slot_capacity.fig2_curve(model, 40)")

_row(key="tyulmankov-fig2b-hopfield-ahead", chapter=4,
    quantity="Fig 2b (N = 40): Hopfield network ahead of the sequential slot memory at 179 items",
    source=TYULMANKOV, where="Fig 2b, plot_all_figs.ipynb", url=_FIG2_NB,
    source_value=f"True ({BIO_KVM_FIG2B['hopfield'][179]:.3f} vs {BIO_KVM_FIG2B['sequential'][179]:.3f})",
    expect=_equals(True), experiment="tyulmankov-fig2b", field="hopfield_ahead_at_179",
    note="Its self-connections keep the cue's known bits.", switch="hopfield_diagonal=True")

_row(key="tyulmankov-fig2b-hopfield-zero-diagonal", chapter=4,
    quantity="Fig 2b (N = 40): Hopfield accuracy at 179 items, self-connections removed",
    source=TYULMANKOV, where="Fig 2b, models/hopfield.py", url=f"{_BIOKVM}/blob/main/models/hopfield.py",
    source_value=f"{BIO_KVM_FIG2B['hopfield'][179]:.3f} (with its diagonal)",
    expect=_approx(BIO_KVM_FIG2B["hopfield"][179], _FIG2B_TOL["hopfield"]),
    experiment="tyulmankov-fig2b", field="hopfield0_179", setting="the book's variant",
    note="The textbook network (W_ii = 0) falls below the slot memory; bio-kvm keeps W_ii = P.",
    switch="hopfield_diagonal=True")

_row(key="tyulmankov-fig2b-random-eq13", chapter=4,
    quantity="Fig 2b (N = 40): random local factor, accuracy after 62 items, value rule of Eq 13",
    source=TYULMANKOV, where="Fig 2b, models/plasticnet.py (decay='active')",
    url=f"{_BIOKVM}/blob/main/models/plasticnet.py",
    source_value=f"{BIO_KVM_FIG2B['random'][62]:.3f} (values replaced)",
    expect=_approx(BIO_KVM_FIG2B["random"][62], _FIG2B_TOL["random"]),
    experiment="tyulmankov-fig2b", field="random13_62", setting="the review's Eq 13",
    note="Eq 13 keeps 1 − α of an old value when an item lands in several slots.",
    switch='value_rule="replace"')

for _m, _N in _FIG2C_ROWS:
    _row(key=f"tyulmankov-fig2c-{_m}-{_N}", chapter=4,
        quantity=f"Fig 2c: {_m} network, 98 % capacity at N = {_N} (mean of 50 searches)",
        source=TYULMANKOV, where="Fig 2c, plot_all_figs.ipynb (get_capacity)", url=_FIG2_NB,
        source_value=f"{BIO_KVM_FIG2C[_m][_N]:g}",
        expect=_approx(BIO_KVM_FIG2C[_m][_N], _FIG2C_TOL[_m]), experiment="tyulmankov-fig2c",
        field=f"{_m}_{_N}", note="Same noisy search, one fresh sequence per test, 50 runs.",
        switch="kvlib.slot_capacity.capacity_runs(model, N, seeds=range(50))")

_row(key="tyulmankov-fig2c-sequential-half", chapter=4,
    quantity="Fig 2c: sequential slot memory, 98 % capacity at N = 40 with N/2 slots",
    source=TYULMANKOV, where="Fig 2c, plot_all_figs.ipynb (get_capacity)", url=_FIG2_NB,
    source_value=f"{BIO_KVM_FIG2C['sequential'][40]:g} (N slots)",
    expect=_approx(BIO_KVM_FIG2C["sequential"][40], _FIG2C_TOL["sequential"]),
    experiment="tyulmankov-fig2c", field="sequential_half_40", setting="the book's variant",
    note="Half the slots (as many synapses as a Hopfield network) hold half the items.",
    switch='n_slots="N"')
