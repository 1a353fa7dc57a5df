import Foundation
import VLImaging
import VLTensor

/// One entry as read from the file: its line and its JSON value, or why it could not be parsed.
struct RawEntry {
    let line: Int
    let value: Result<Any, EntryProblem>
}

/// The shared part of every loader: parse each entry, check that its images decode, then keep the
/// good entries in file order and skip (or, strictly, throw on) the bad ones.
struct EntryValidation<Entry> {
    let file: URL
    let options: LoadOptions
    let parse: (JSONRecord) throws -> Entry
    let images: (Entry) -> [URL]

    func run(_ raw: [RawEntry]) throws -> Dataset<Entry> {
        let parsed = raw.map(parseEntry)
        let imageProblems = undecodable(parsed.compactMap { try? $0.get() }.flatMap(images))
        var entries: [Entry] = [], skipped = SkippedEntries()
        for (r, result) in zip(raw, parsed) {
            do {
                let entry = try result.get()
                if let problem = images(entry).lazy.compactMap({ imageProblems[$0] }).first {
                    throw EntryProblem(problem)
                }
                entries.append(entry)
            } catch let p as EntryProblem {
                if options.strict { throw DatasetError(file, line: r.line, p.message) }
                skipped.add(line: r.line, p.message)
            }
        }
        guard !entries.isEmpty else { throw DatasetError(file, "no usable entries — \(skipped.summary)") }
        let dataset = Dataset(file: file, entries: entries, skipped: skipped)
        if let warning = dataset.warning { options.warn(warning) }
        return dataset
    }

    func parseEntry(_ r: RawEntry) -> Result<Entry, EntryProblem> {
        do {
            return .success(try parse(JSONRecord(r.value.get())))
        } catch let p as EntryProblem {
            return .failure(p)
        } catch {
            return .failure(EntryProblem("\(error)"))
        }
    }

    /// Decodes every distinct image (in parallel) and returns why each bad one failed.
    func undecodable(_ urls: [URL]) -> [URL: String] {
        let distinct = Array(Set(urls))
        var problems = [String?](repeating: nil, count: distinct.count)
        problems.withUnsafeMutableBufferPointer { out in
            Parallel.forRange(distinct.count, grain: 4) { range in
                for i in range { out[i] = problem(decoding: distinct[i]) }
            }
        }
        return Dictionary(uniqueKeysWithValues: zip(distinct, problems).compactMap { url, p in p.map { (url, $0) } })
    }

    func problem(decoding url: URL) -> String? {
        do {
            _ = try RGBImage(contentsOf: url, maxPixels: options.maxPixels)
            return nil
        } catch {
            return "image \(error)"
        }
    }
}
