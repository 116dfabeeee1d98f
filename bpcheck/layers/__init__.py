"""The verification tool's layer part: cases, Hypothesis strategies and the tolerance model of every
layer kind that ``manual-bp check-layer`` checks.

    bpcheck.layers.cases        LayerCase(kind, inputs, hyper, dout); make_layer_case(rng, kind, shape, …)
    bpcheck.layers.strategies   layer_cases(kinds, …): Hypothesis strategy of LayerCase (public)
    bpcheck.layers.tolerance    analyse(case, dtype) -> LayerAnalysis; compare(outputs, analysis, u_ref=)
"""
