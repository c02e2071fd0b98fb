//! Tests of the expression language: values, precedence, functions, errors and their columns,
//! limits, random input, and reading reactors from TOML.

use super::*;

fn eval(src: &str) -> f32 {
    match Expr::parse(src) {
        Ok(e) => e.eval(&Vars::default()),
        Err(e) => panic!("{src:?} failed to parse: {e}"),
    }
}

fn eval_with(src: &str, vars: &Vars) -> f32 {
    Expr::parse(src).unwrap().eval(vars)
}

fn err(src: &str) -> ExprError {
    match Expr::parse(src) {
        Ok(e) => panic!("{src:?} parsed as {e:?}"),
        Err(e) => e,
    }
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-5 * (1.0 + b.abs())
}

#[track_caller]
fn assert_eval(src: &str, want: f32) {
    let got = eval(src);
    assert!(close(got, want), "{src:?} = {got}, want {want}");
}

#[test]
fn numbers() {
    assert_eval("1", 1.0);
    assert_eval("1.5", 1.5);
    assert_eval(".5", 0.5);
    assert_eval("1.", 1.0);
    assert_eval("1e-3", 0.001);
    assert_eval("2.5E+2", 250.0);
    assert_eval("3e2", 300.0);
    assert_eval("  42  ", 42.0);
    assert_eval("pi", std::f32::consts::PI);
}

#[test]
fn precedence_and_associativity() {
    assert_eval("1 + 2 * 3", 7.0);
    assert_eval("(1 + 2) * 3", 9.0);
    assert_eval("2 * 3 + 4 * 5", 26.0);
    assert_eval("10 - 4 - 3", 3.0);
    assert_eval("64 / 4 / 2", 8.0);
    assert_eval("2 ^ 3 ^ 2", 512.0);
    assert_eval("(2 ^ 3) ^ 2", 64.0);
    assert_eval("-2 ^ 2", -4.0);
    assert_eval("(-2) ^ 2", 4.0);
    assert_eval("2 ^ -1", 0.5);
    assert_eval("-2 ^ -2", -0.25);
    assert_eval("2 * 3 ^ 2", 18.0);
    assert_eval("-3 * 2", -6.0);
    assert_eval("2 - -1", 3.0);
    assert_eval("--1", 1.0);
    assert_eval("+-+1", -1.0);
    assert_eval("7 % 3", 1.0);
    assert_eval("-7 % 3", 2.0);
    assert_eval("7.5 % 2", 1.5);
    assert_eval("1 + 7 % 3 * 2", 3.0);
    assert_eval("1 + 2 < 4", 1.0);
    assert_eval("1 + 2 < 3", 0.0);
    assert_eval("3 > 2 > 1", 0.0);
    assert_eval("1 < 2 == 1", 1.0);
    assert_eval("2 == 2", 1.0);
    assert_eval("2 != 2", 0.0);
    assert_eval("1 <= 1", 1.0);
    assert_eval("1 >= 2", 0.0);
    assert_eval("1 + 2 == 3", 1.0);
    assert_eval("((((1))))", 1.0);
    assert_eval("1e-3 * 1000", 1.0);
    assert_eval(".5 + .25", 0.75);
}

#[test]
fn functions() {
    assert_eval("sin(pi / 2)", 1.0);
    assert_eval("cos(pi)", -1.0);
    assert_eval("tan(pi / 4)", 1.0);
    assert_eval("abs(-3)", 3.0);
    assert_eval("sqrt(16)", 4.0);
    assert_eval("exp(1)", std::f32::consts::E);
    assert_eval("ln(exp(2))", 2.0);
    assert_eval("log10(1000)", 3.0);
    assert_eval("floor(-1.5)", -2.0);
    assert_eval("ceil(-1.5)", -1.0);
    assert_eval("round(2.5)", 3.0);
    assert_eval("round(-2.5)", -3.0);
    assert_eval("round(2.4)", 2.0);
    assert_eval("fract(2.75)", 0.75);
    assert_eval("fract(-0.25)", 0.75);
    assert_eval("sign(-4)", -1.0);
    assert_eval("sign(0)", 0.0);
    assert_eval("sign(0.1)", 1.0);
    assert_eval("min(3, -2)", -2.0);
    assert_eval("max(3, -2)", 3.0);
    assert_eval("clamp(5, 0, 1)", 1.0);
    assert_eval("clamp(-5, 0, 1)", 0.0);
    assert_eval("clamp(0.3, 0, 1)", 0.3);
    assert_eval("clamp(0.5, 1, 0)", 0.0); // lo > hi: min(max(x, lo), hi), no panic
    assert_eval("mix(2, 4, 0.25)", 2.5);
    assert_eval("mix(2, 4, 2)", 6.0);
    assert_eval("smoothstep(0, 1, 0.5)", 0.5);
    assert_eval("smoothstep(0, 1, 0.25)", 0.15625);
    assert_eval("smoothstep(0, 1, -1)", 0.0);
    assert_eval("smoothstep(0, 1, 2)", 1.0);
    assert_eval("smoothstep(2, 2, 1)", 0.0);
    assert_eval("smoothstep(2, 2, 3)", 1.0);
    assert_eval("step(0.5, 0.4)", 0.0);
    assert_eval("step(0.5, 0.5)", 1.0);
    assert_eval("pow(2, 10)", 1024.0);
    assert_eval("pow(9, 0.5)", 3.0);
    assert_eval("max(1, min(5, 3)) + clamp(2 * 2, 0, 3)", 6.0);
    assert_eval("sin(0) + cos(0)", 1.0);
}

#[test]
fn variable_names_round_trip() {
    assert_eq!(Var::ALL.len(), Var::COUNT);
    for (i, var) in Var::ALL.into_iter().enumerate() {
        assert_eq!(var.index(), i);
        assert_eq!(Var::from_name(var.name()), Some(var));
        assert_eq!(var.name().parse::<Var>(), Ok(var));
        assert_eq!(var.to_string(), var.name());
        assert!(!var.description().is_empty());
    }
    let names = [
        "time", "duration", "progress", "frame", "rms", "peak", "loudness", "left", "right",
        "onset", "beat", "pulse", "bpm", "bass", "mid", "treble",
    ];
    assert_eq!(Var::ALL.map(Var::name), names);
    assert_eq!(Var::from_name("Bass"), None);
    let e = "bas".parse::<Var>().unwrap_err();
    assert!(e.contains("did you mean \"bass\""), "{e}");
}

#[test]
fn vars_from_features() {
    let f = audio::FrameFeatures {
        time: 12.0,
        frame: 7,
        rms: 0.11,
        peak: 0.22,
        loudness_lufs: -23.5,
        level_left: 0.33,
        level_right: 0.44,
        onset: 0.55,
        beat: 1.0,
        beat_pulse: 0.66,
        bpm: 128.0,
        bass: 0.77,
        mid: 0.88,
        treble: 0.99,
        _pad: [0.0; 2],
    };
    let vars = Vars::from_features(&f, 10.0, 4.0);
    let want = [
        (Var::Time, 12.0),
        (Var::Duration, 4.0),
        (Var::Progress, 0.5),
        (Var::Frame, 7.0),
        (Var::Rms, 0.11),
        (Var::Peak, 0.22),
        (Var::Loudness, -23.5),
        (Var::Left, 0.33),
        (Var::Right, 0.44),
        (Var::Onset, 0.55),
        (Var::Beat, 1.0),
        (Var::Pulse, 0.66),
        (Var::Bpm, 128.0),
        (Var::Bass, 0.77),
        (Var::Mid, 0.88),
        (Var::Treble, 0.99),
    ];
    assert_eq!(want.len(), Var::COUNT);
    for (var, value) in want {
        assert_eq!(vars.get(var), value, "{var}");
        // And through an expression naming it.
        assert_eq!(eval_with(var.name(), &vars), value, "{var}");
        assert_eq!(Expr::parse(var.name()).unwrap().variables(), vec![var]);
    }
    let at = |time: f32, start: f64, duration: f64| {
        Vars::from_features(
            &audio::FrameFeatures {
                time,
                ..Default::default()
            },
            start,
            duration,
        )
        .get(Var::Progress)
    };
    assert_eq!(at(20.0, 10.0, 4.0), 1.0);
    assert_eq!(at(5.0, 10.0, 4.0), 0.0);
    assert_eq!(at(11.0, 10.0, 4.0), 0.25);
    assert_eq!(at(11.0, 10.0, 0.0), 0.0);
}

#[test]
fn expressions_read_variables() {
    let mut vars = Vars::default();
    vars.set(Var::Pulse, 0.5);
    vars.set(Var::Bass, 0.25);
    vars.set(Var::Time, 3.0);
    assert_eq!(eval_with("0.5 + 0.5 * pulse", &vars), 0.75);
    assert_eq!(eval_with("bass * 4 + time % 2", &vars), 2.0);
    assert_eq!(eval_with("step(0.3, bass)", &vars), 0.0);
    assert_eq!(eval_with("pulse > bass", &vars), 1.0);
    let e = Expr::parse("bass + bass * time - 1").unwrap();
    assert_eq!(e.variables(), vec![Var::Time, Var::Bass]);
    assert!(!e.is_constant());
    let c = Expr::parse("2 * pi + sin(1) * 3").unwrap();
    assert!(c.is_constant());
    assert!(c.variables().is_empty());
    // Constant sub-expressions are folded to one instruction.
    assert_eq!(c.ops.len(), 1);
    assert_eq!(Expr::parse("bass * (2 + 3)").unwrap().ops.len(), 3);
}

#[test]
fn non_finite_results_become_zero() {
    assert_eq!(eval("1 / 0"), 0.0);
    assert_eq!(eval("0 / 0"), 0.0);
    assert_eq!(eval("1 / 0 + 1"), 1.0);
    assert_eq!(eval("5 % 0"), 0.0);
    assert_eq!(eval("sqrt(-1)"), 0.0);
    assert_eq!(eval("ln(0)"), 0.0);
    assert_eq!(eval("ln(-1) + 2"), 2.0);
    assert_eq!(eval("log10(0)"), 0.0);
    assert_eq!(eval("exp(1000)"), 0.0);
    assert_eq!(eval("10 ^ 40"), 0.0);
    assert_eq!(eval("pow(-8, 1 / 3)"), 0.0);
    assert_eq!(eval("3e38 * 10"), 0.0);
    // Also when the division happens at run time.
    let mut vars = Vars::default();
    assert_eq!(eval_with("1 / bass", &vars), 0.0);
    assert_eq!(eval_with("max(1 / bass, 2)", &vars), 2.0);
    vars.set(Var::Bass, f32::NAN);
    assert_eq!(vars.get(Var::Bass), 0.0);
    vars.set(Var::Mid, f32::INFINITY);
    assert_eq!(vars.get(Var::Mid), 0.0);
    assert_eq!(Reactive::Const(f32::NAN).eval(&vars), 0.0);
}

#[test]
fn error_columns_and_messages() {
    let e = err("0.5 + bas");
    assert_eq!(e.column, 7);
    assert!(
        e.message
            .starts_with("unknown variable \"bas\" at column 7: did you mean \"bass\"?"),
        "{e}"
    );
    assert!(e.message.contains("time, duration, progress"), "{e}");
    assert_eq!(e.to_string(), e.message);

    let e = err("trebel");
    assert!(e.message.contains("did you mean \"treble\""), "{e}");
    let e = err("Bass * 2");
    assert!(e.message.contains("did you mean \"bass\""), "{e}");
    let e = err("beat_pulse");
    assert!(e.message.contains("did you mean \"pulse\""), "{e}");
    let e = err("1 + PI");
    assert_eq!(e.column, 5);
    assert!(e.message.contains("did you mean \"pi\""), "{e}");
    let e = err("xyzzy");
    assert!(!e.message.contains("did you mean"), "{e}");
    assert!(e.message.contains("use one of time"), "{e}");

    let e = err("2 * sinn(time)");
    assert_eq!(e.column, 5);
    assert!(
        e.message
            .starts_with("unknown function \"sinn\" at column 5: did you mean \"sin\"?"),
        "{e}"
    );
    assert!(e.message.contains("smoothstep(e0, e1, x)"), "{e}");
    let e = err("lerp(0, 1, bass)");
    assert!(e.message.contains("did you mean \"mix\""), "{e}");
    let e = err("mod(time, 2)");
    assert!(e.message.contains("% operator"), "{e}");

    let e = err("1 + min(1)");
    assert_eq!(e.column, 5);
    assert!(
        e.message
            .starts_with("min takes 2 arguments but was given 1 at column 5: write min(a, b)"),
        "{e}"
    );
    let e = err("sin(1, 2)");
    assert!(
        e.message
            .starts_with("sin takes 1 argument but was given 2"),
        "{e}"
    );
    let e = err("clamp()");
    assert!(
        e.message
            .starts_with("clamp takes 3 arguments but was given 0"),
        "{e}"
    );

    let e = err("(1 + 2");
    assert_eq!(e.column, 1);
    assert!(e.message.starts_with("unclosed \"(\" at column 1"), "{e}");
    let e = err("max(1, (2)");
    assert_eq!(e.column, 4);
    assert!(e.message.contains("unclosed \"(\" of max("), "{e}");
    let e = err("1 + 2)");
    assert_eq!(e.column, 6);
    assert!(e.message.starts_with("unbalanced \")\" at column 6"), "{e}");

    let e = err("1 +");
    assert_eq!(e.column, 4);
    assert!(
        e.message
            .starts_with("expression ends too early at column 4"),
        "{e}"
    );
    assert!(e.message.contains("after \"+\""), "{e}");
    let e = err("   ");
    assert_eq!(e.column, 1);
    assert!(e.message.starts_with("empty expression"), "{e}");
    let e = err("()");
    assert_eq!(e.column, 2);
    assert!(e.message.starts_with("missing value before \")\""), "{e}");
    let e = err("min(1,)");
    assert_eq!(e.column, 7);
    let e = err("1 * * 2");
    assert_eq!(e.column, 5);
    assert!(e.message.starts_with("unexpected \"*\" at column 5"), "{e}");

    let e = err("2 pi");
    assert_eq!(e.column, 3);
    assert!(e.message.contains("\"2 * pi\""), "{e}");
    let e = err("1 , 2");
    assert_eq!(e.column, 3);
    assert!(e.message.contains("commas only separate"), "{e}");
    let e = err("1 $ 2");
    assert_eq!(e.column, 3);
    assert!(
        e.message
            .starts_with("unexpected character \"$\" at column 3"),
        "{e}"
    );
    let e = err("bass = 1");
    assert_eq!(e.column, 6);
    assert!(e.message.contains("write =="), "{e}");
    let e = err("!beat");
    assert!(e.message.contains("1 - x"), "{e}");
    let e = err("2 ** 3");
    assert_eq!(e.column, 3);
    assert!(e.message.contains("^"), "{e}");
    let e = err("sin + 1");
    assert!(
        e.message.starts_with("\"sin\" is a function at column 1"),
        "{e}"
    );
    let e = err("bass(1)");
    assert!(e.message.contains("is a value, not a function"), "{e}");
    let e = err("1 + 1e");
    assert_eq!(e.column, 5);
    assert!(e.message.contains("no digits after its exponent"), "{e}");
    let e = err("1e+ 2");
    assert!(e.message.contains("no digits after its exponent"), "{e}");
    let e = err("1e400");
    assert!(e.message.contains("too large"), "{e}");
    // Columns count characters, not bytes.
    let e = err("\"é\" + 1");
    assert_eq!(e.column, 1);
    let e = err("1 + é");
    assert_eq!(e.column, 5);
}

/// A swap of two neighbouring letters is one edit, so even a short name gets its suggestion.
#[test]
fn suggestions_count_a_swap_as_one_edit() {
    for (typo, want) in [("mdi", "mid"), ("bsas", "bass"), ("trebel", "treble")] {
        let e = err(typo);
        assert!(
            e.message.contains(&format!("did you mean \"{want}\"")),
            "{e}"
        );
    }
    let e = err("sni(1)");
    assert!(e.message.contains("did you mean \"sin\""), "{e}");
    let e = "mdi".parse::<Var>().unwrap_err();
    assert!(e.contains("did you mean \"mid\""), "{e}");
    // Two edits are too many for a name of four letters or fewer.
    let e = err("bsa");
    assert!(!e.message.contains("did you mean"), "{e}");
}

#[test]
fn length_and_depth_limits() {
    let ok = format!("{}1", "1+".repeat((MAX_SOURCE_CHARS - 1) / 2));
    assert!(ok.len() <= MAX_SOURCE_CHARS);
    assert_eq!(eval(&ok), ((MAX_SOURCE_CHARS - 1) / 2 + 1) as f32);
    let long = format!("{ok}+1");
    assert!(long.len() > MAX_SOURCE_CHARS);
    let e = err(&long);
    assert_eq!(e.column, MAX_SOURCE_CHARS + 1);
    assert!(e.message.contains("too long"), "{e}");

    let nested = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(eval(&nested(MAX_DEPTH - 1)), 1.0);
    let e = err(&nested(MAX_DEPTH));
    assert!(e.message.contains("nests too deeply"), "{e}");
    assert_eq!(e.column, MAX_DEPTH);
    assert!(err(&nested(400)).message.contains("nests too deeply"));
    assert!(err(&"-".repeat(500)).message.contains("nests too deeply"));
    assert!(
        err(&format!("{}2", "2^".repeat(200)))
            .message
            .contains("nests too deeply")
    );
    assert!(
        err(&format!("{}1{}", "sin(".repeat(100), ")".repeat(100)))
            .message
            .contains("nests too deeply")
    );
    assert_eq!(
        eval(&format!("{}1{}", "abs(".repeat(40), ")".repeat(40))),
        1.0
    );
}

#[test]
fn deep_stacks_evaluate() {
    // Right-nested sums keep every left operand on the stack: more than the inline stack.
    let mut vars = Vars::default();
    vars.set(Var::Bass, 1.0);
    let n = 50;
    let src = format!("{}bass{}", "bass+(".repeat(n), ")".repeat(n));
    let e = Expr::parse(&src).unwrap();
    assert!(e.max_stack > 32, "{}", e.max_stack);
    assert_eq!(e.eval(&vars), (n + 1) as f32);
    let src = format!("{}bass{}", "mix(bass, bass, ".repeat(30), ")".repeat(30));
    assert_eq!(eval_with(&src, &vars), 1.0);
}

/// Random token soups: whatever parses must evaluate to a finite value without panicking.
#[test]
fn random_inputs_never_panic() {
    let pieces = [
        "1",
        "0",
        ".5",
        "2e3",
        "pi",
        "bass",
        "time",
        "-",
        "+",
        "*",
        "/",
        "%",
        "^",
        "<",
        "<=",
        "==",
        "!=",
        "(",
        ")",
        ",",
        "sin(",
        "min(",
        "clamp(",
        "smoothstep(",
        " ",
        "1e",
        "ln(",
        "pow(",
        "step(",
    ];
    let mut vars = Vars::default();
    for (i, var) in Var::ALL.into_iter().enumerate() {
        vars.set(var, i as f32 - 3.5);
    }
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut parsed = 0;
    for _ in 0..20_000 {
        let mut src = String::new();
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = 1 + (state % 12) as usize;
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            src.push_str(pieces[(state % pieces.len() as u64) as usize]);
        }
        match Expr::parse(&src) {
            Ok(e) => {
                parsed += 1;
                assert!(e.eval(&vars).is_finite(), "{src:?}");
            }
            Err(e) => {
                assert!(
                    e.column >= 1 && e.column <= src.chars().count() + 1,
                    "{src:?}: {e}"
                );
                assert!(
                    e.message.contains(&format!("at column {}", e.column)),
                    "{e}"
                );
            }
        }
    }
    assert!(parsed > 500, "only {parsed} parsed");
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Layer {
    #[serde(default)]
    name: String,
    opacity: Reactive,
}

fn layer(doc: &str) -> Result<Layer, String> {
    toml::from_str::<Layer>(doc).map_err(|e| e.to_string())
}

#[test]
fn reactive_from_toml() {
    let mut vars = Vars::default();
    vars.set(Var::Pulse, 0.5);
    vars.set(Var::Bass, 0.5);

    let l = layer("name = \"a\"\nopacity = 0.8\n").unwrap();
    assert_eq!(l.name, "a");
    assert_eq!(l.opacity, Reactive::Const(0.8));
    assert_eq!(l.opacity.constant(), Some(0.8));
    assert!(!l.opacity.is_reactive());

    let l = layer("opacity = 1").unwrap();
    assert_eq!(l.opacity, Reactive::Const(1.0));
    let l = layer("opacity = -3").unwrap();
    assert_eq!(l.opacity, Reactive::Const(-3.0));

    let l = layer("opacity = \"0.5 + 0.5 * pulse\"").unwrap();
    assert!(l.opacity.is_reactive());
    assert_eq!(l.opacity.constant(), None);
    assert_eq!(l.opacity.eval(&vars), 0.75);
    assert_eq!(l.opacity.variables(), vec![Var::Pulse]);
    assert_eq!(l.opacity, Reactive::parse("0.5 + 0.5 * pulse").unwrap());
    assert_eq!(l.opacity.to_string(), "0.5 + 0.5 * pulse");
    assert_eq!(format!("{:?}", l.opacity), "Expr(\"0.5 + 0.5 * pulse\")");

    // A constant expression folds.
    let l = layer("opacity = \"2 * pi\"").unwrap();
    assert_eq!(l.opacity, Reactive::Const(2.0 * std::f32::consts::PI));

    let l = layer("opacity = { feature = \"bass\", scale = 0.2, offset = 1.0 }").unwrap();
    assert!(l.opacity.is_reactive());
    assert!(close(l.opacity.eval(&vars), 1.1));
    assert_eq!(l.opacity.to_string(), "0.2 * bass + 1");
    // The table form compiles like the expression it stands for.
    match (&l.opacity, Reactive::parse("0.2 * bass + 1").unwrap()) {
        (Reactive::Expr { expr: a, .. }, Reactive::Expr { expr: b, .. }) => assert_eq!(*a, b),
        other => panic!("{other:?}"),
    }
    let l = layer("[opacity]\nfeature = \"pulse\"\n").unwrap();
    assert_eq!(l.opacity.eval(&vars), 0.5);
    assert_eq!(l.opacity.to_string(), "pulse");
    let l = layer("opacity = { feature = \"bass\", offset = -1 }").unwrap();
    assert_eq!(l.opacity.eval(&vars), -0.5);
    let l = layer("opacity = { feature = \"bass\", scale = 0, offset = 2 }").unwrap();
    assert_eq!(l.opacity, Reactive::Const(2.0));
}

#[test]
fn reactive_toml_errors_name_the_line() {
    let e = layer("name = \"a\"\nopacity = { feature = \"bas\" }\n").unwrap_err();
    assert!(e.contains("line 2"), "{e}");
    assert!(e.contains("unknown audio feature \"bas\""), "{e}");
    assert!(e.contains("did you mean \"bass\""), "{e}");

    let e = layer("name = \"a\"\n\nopacity = \"0.5 + bas\"\n").unwrap_err();
    assert!(e.contains("line 3"), "{e}");
    assert!(e.contains("invalid expression \"0.5 + bas\""), "{e}");
    assert!(e.contains("unknown variable \"bas\" at column 7"), "{e}");

    let e = layer("opacity = { feature = \"bass\", gain = 2 }").unwrap_err();
    assert!(e.contains("line 1"), "{e}");
    assert!(e.contains("gain"), "{e}");
    assert!(e.contains("feature") && e.contains("offset"), "{e}");

    let e = layer("opacity = { scale = 2 }").unwrap_err();
    assert!(e.contains("needs feature"), "{e}");
    let e = layer("opacity = { feature = \"bass\", scale = \"x\" }").unwrap_err();
    assert!(e.contains("expected a number"), "{e}");
    let e = layer("opacity = nan").unwrap_err();
    assert!(e.contains("finite"), "{e}");
    let e = layer("opacity = 1e300").unwrap_err();
    assert!(e.contains("too large"), "{e}");
    let e = layer("opacity = true").unwrap_err();
    assert!(e.contains("an expression string"), "{e}");
    let e = layer("opacity = \"\"").unwrap_err();
    assert!(e.contains("empty expression"), "{e}");
}

#[test]
fn reactive_helpers() {
    let vars = Vars::default();
    let r = Reactive::from(0.5);
    assert_eq!(r, Reactive::Const(0.5));
    assert!(r.check_const_range(0.0, 1.0, "opacity").is_ok());
    let e = Reactive::from(1.5)
        .check_const_range(0.0, 1.0, "opacity")
        .unwrap_err();
    assert_eq!(e, "opacity must be between 0 and 1, got 1.5");
    assert!(
        Reactive::Const(f32::NAN)
            .check_const_range(0.0, 1.0, "x")
            .is_err()
    );
    let r: Reactive = "2 + time".parse().unwrap();
    assert!(r.check_const_range(0.0, 1.0, "opacity").is_ok());
    assert_eq!(r.eval(&vars), 2.0);
    assert_eq!(r.eval_clamped(&vars, 0.0, 1.0), 1.0);
    let r: Reactive = "time - 5".parse().unwrap();
    assert_eq!(r.eval_clamped(&vars, 0.0, 1.0), 0.0);
    assert_ne!(r, Reactive::Const(-5.0));
    assert_ne!(r, "time - 4".parse::<Reactive>().unwrap());
    assert_eq!(format!("{:?}", Reactive::Const(0.5)), "Const(0.5)");
}
