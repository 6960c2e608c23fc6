extension KeyedDecodingContainer {
    /// Decodes one of a fixed set of string choices, if present. An unknown value is a
    /// `DecodingError` at the key that lists the valid choices.
    public func decodeChoiceIfPresent<T>(_: T.Type, forKey key: Key) throws -> T?
    where T: RawRepresentable & CaseIterable, T.RawValue == String {
        guard let raw = try decodeIfPresent(String.self, forKey: key) else { return nil }
        guard let choice = T(rawValue: raw) else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: self, debugDescription: "expected one of: \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return choice
    }

    /// An array of choices (a single string counts as an array of one), each checked like
    /// `decodeChoiceIfPresent`'s.
    public func decodeChoicesIfPresent<T>(_: T.Type, forKey key: Key) throws -> [T]?
    where T: RawRepresentable & CaseIterable, T.RawValue == String {
        guard contains(key) else { return nil }
        let raws: [String]
        if let one = try? decode(String.self, forKey: key) {
            raws = [one]
        } else {
            raws = try decode([String].self, forKey: key)
        }
        return try raws.map { raw in
            guard let choice = T(rawValue: raw) else {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: self, debugDescription: "'\(raw)': expected one of: \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return choice
        }
    }
}
