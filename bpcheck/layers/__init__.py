"""The verification tool's layer part: cases, Hypothesis strategies, the tolerance model and the
judgement of every layer kind that ``manual-bp check-layer`` checks (``references.layers.LAYER_KINDS``).

    bpcheck.layers.cases        LayerCase(kind, inputs, hyper, dout); make_layer_case(rng, kind, shape, dtype=, regime=)
    bpcheck.layers.strategies   layer_cases(kinds, dtypes=, regimes=, max_…=): Hypothesis strategy (public);
                                random_layer_case(rng, kinds, …): the same distribution, i.i.d., for campaigns
    bpcheck.layers.tolerance    analyse(case, dtype=None) -> LayerAnalysis(truth, bounds; .resolution, .resolvable);
                                compare(outputs, analysis, u_ref=, reference=None) -> (mismatches, worst margin)
    bpcheck.layers.judge        judge_outputs(outputs, analysis, u_ref=, reference=None) -> LayerFault | None
    bpcheck.layers.api          call_layer(case, forward, backward=None, masked=False) -> (outputs, case)

Outputs are named as in ``references.layers.KINDS[kind].outputs``: "out" (the loss, for the loss
kinds), then "d" + each differentiable input ("dx", "dw", "db", "dgamma", "dbeta").
"""
