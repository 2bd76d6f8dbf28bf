import Testing
@testable import ModelParity

@Suite("Deterministic JSON")
struct JSONTests {
    @Test func doublesRoundTripExactly() throws {
        let values: [Double] = [0.1 + 0.2, 1e-5, .leastNonzeroMagnitude, 1.7976931348623157e308, -0.0, 123456789.125, 1.0 / 3.0, 2.5e-7]
        let text = JSON.array(values.map { .number($0) }).text
        let back = try JSON.parse(text).arrayValue!.map { $0.doubleValue! }
        for (a, b) in zip(values, back) { #expect(a.bitPattern == b.bitPattern, "\(a) came back as \(b)") }
    }

    @Test func nonFiniteAreStrings() throws {
        let text = JSON.array([.number(.infinity), .number(-.infinity), .number(.nan)]).text
        #expect(text == "[\"inf\", \"-inf\", \"nan\"]\n")
        let back = try JSON.parse(text).arrayValue!.map { $0.doubleValue! }
        #expect(back[0] == .infinity && back[1] == -.infinity && back[2].isNaN)
    }

    @Test func keysSortedAndLayoutFixed() {
        let j = JSON.object(["b": .int(1), "a": .object(["z": .array([.int(1), .int(2)]), "y": .null]),
                             "c": .array([.object(["k": .bool(true)])])])
        #expect(j.text == """
            {
              "a": {"y": null, "z": [1, 2]},
              "b": 1,
              "c": [
                {"k": true}
              ]
            }

            """)
    }

    @Test func stringsEscaped() throws {
        let s = "a\"b\\c\nd\u{1}é/"
        let back = try JSON.parse(JSON.string(s).text)
        #expect(back.stringValue == s)
    }

    @Test func malformedRejected() {
        for bad in ["{", "[1,]", "{\"a\" 1}", "01x", "\"abc", "{\"a\":1,\"a\":2}", "[1] 2"] {
            #expect(throws: JSON.SyntaxError.self) { try JSON.parse(bad) }
        }
    }
}
